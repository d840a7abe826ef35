package lab

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"kinn.dev/kinn/lab/kernel"
	"kinn.dev/kinn/lab/plan"
)

// A lab's namespaces are named after the lab alone (they live in the
// machine-wide /run/netns), while its record lives under a state root the
// user may move (--state-dir). So that the same name under another root can
// never take over, tear down or start a second lab process for a lab
// recorded elsewhere, the switch's bridge carries its owner: the state
// directory that records it.

const ownerPrefix = "kinn state "

// owner is the alias the lab's switch bridge carries: its state directory,
// or a digest of it where the path is longer than an alias may be.
func owner(o Options, name string) string {
	dir, err := filepath.Abs(o.StateDir(name))
	if err != nil {
		dir = o.StateDir(name)
	}
	if len(ownerPrefix)+len(dir) > 250 { // IFALIASZ is 256 with its NUL
		return fmt.Sprintf("%ssha256:%x", ownerPrefix, sha256.Sum256([]byte(dir)))
	}
	return ownerPrefix + dir
}

// CheckOwner refuses to act on a lab whose namespaces belong to a lab
// recorded in another state directory that still exists. Namespaces with
// no owner (a lab made by an older kinn) or whose owner's record is gone
// (an orphan after a lost state directory) are this lab's to converge or
// remove.
func CheckOwner(o Options, name string) error {
	have, err := kernel.SwitchOwner(plan.SwitchNetns(name))
	if err != nil || have == "" || have == owner(o, name) {
		return err
	}
	dir, ok := strings.CutPrefix(have, ownerPrefix)
	if ok && !strings.HasPrefix(dir, "sha256:") {
		if _, err := os.Stat(filepath.Join(dir, fileTopology)); err != nil {
			return nil // its record is gone: an orphan
		}
		return fmt.Errorf("lab %q already runs from another state directory, %s: its namespaces are not this one's to change "+
			"(use --state-dir %s for that lab, or another --name for a new one)", name, dir, filepath.Dir(dir))
	}
	return fmt.Errorf("lab %q already runs from another state directory (%s): use that one's --state-dir, or another --name", name, have)
}
