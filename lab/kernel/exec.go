package kernel

import (
	"os/exec"
)

// StartIn starts cmd inside the named network namespace. The child is forked
// from a thread locked inside the namespace, so it inherits the namespace;
// kinn's own threads never stay there.
func StartIn(name string, cmd *exec.Cmd) error {
	return Do(name, cmd.Start)
}
