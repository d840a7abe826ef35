package topology

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// MaxLabNameLen bounds a lab's name so that every name derived from it
// stays valid: node names (<lab>-control-plane99 must be a DNS-1123 label
// of at most 63 characters) and namespace names under /run/netns.
const MaxLabNameLen = 40

// CheckLabName is the one check every lab name passes, wherever it comes
// from (a file, --name, the environment): a lab's name becomes a directory
// under the state and runtime roots and part of every namespace's name, so
// it must be a DNS-1123 label (no dots, no slashes, never "." or "..")
// short enough for every derived name.
func CheckLabName(name string) error {
	var why []string
	if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
		why = append(why, errs...)
	}
	if len(name) > MaxLabNameLen {
		why = append(why, fmt.Sprintf("must be no more than %d characters (node and namespace names are made from it)", MaxLabNameLen))
	}
	if len(why) > 0 {
		return fmt.Errorf("name %q must be a DNS-1123 label of at most %d characters "+
			"(lower-case letters, digits and '-', starting and ending with a letter or digit) to name a lab: %s",
			name, MaxLabNameLen, strings.Join(why, "; "))
	}
	return nil
}
