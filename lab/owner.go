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
// machine-wide /run/netns), while its record and its lab process live under
// roots the user may move (--state-dir, --run-dir). So that the same name
// under other roots can never take over, tear down or start a second lab
// process for a lab recorded elsewhere, the switch's bridge carries its
// owner: the state and runtime directories that hold it.

const (
	ownerPrefix = "kinn state="
	ownerRun    = " run="
)

// owner is the alias the lab's switch bridge carries: its directories, or
// a digest of them where the paths are longer than an alias may be.
func owner(o Options, name string) string {
	state, run := absDir(o.StateDir(name)), absDir(o.RuntimeDir(name))
	s := ownerPrefix + state + ownerRun + run
	if len(s) > 250 { // IFALIASZ is 256 with its NUL
		return fmt.Sprintf("%ssha256:%x", ownerPrefix, sha256.Sum256([]byte(s)))
	}
	return s
}

func absDir(d string) string {
	if abs, err := filepath.Abs(d); err == nil {
		return abs
	}
	return d
}

// CheckOwner refuses to act on a lab whose namespaces belong to a lab
// recorded under other directories whose record still exists. Namespaces
// with no owner (a lab made by an older kinn) or whose owner's record is
// gone (an orphan after a lost state directory) are this lab's to converge
// or remove.
func CheckOwner(o Options, name string) error {
	have, err := kernel.SwitchOwner(plan.SwitchNetns(name))
	if err != nil || have == "" || have == owner(o, name) {
		return err
	}
	rest, ok := strings.CutPrefix(have, ownerPrefix)
	state, run, full := strings.Cut(rest, ownerRun)
	if !ok || !full {
		return fmt.Errorf("lab %q already runs from other directories (%s): use their --state-dir and --run-dir, or another --name", name, have)
	}
	if _, err := os.Stat(filepath.Join(state, fileTopology)); err != nil {
		return nil // its record is gone: an orphan
	}
	return fmt.Errorf("lab %q already runs from another state directory, %s, with its runtime in %s: its namespaces are not this one's to change "+
		"(use --state-dir %s --run-dir %s for that lab, or another --name for a new one)", name, state, run, filepath.Dir(state), filepath.Dir(run))
}
