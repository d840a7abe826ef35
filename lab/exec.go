package lab

import (
	"errors"
	"fmt"
	"io"
	"os/exec"

	"kinn.dev/kinn/lab/kernel"
)

// Target names where `kinn exec` runs: a pod, a node, or the outside world
// (the switch namespace).
type Target struct {
	Namespace, Pod string
	Node           string
	External       bool
}

// ErrNotFound marks a name that does not exist in the lab.
var ErrNotFound = errors.New("not found")

// Netns resolves a target to its namespace name.
func (s *State) Netns(t Target) (string, error) {
	switch {
	case t.External:
		return s.Plan.Switch.Netns, nil
	case t.Node != "":
		if n := findNode(s.Plan, t.Node); n != nil {
			return n.Netns, nil
		}
		return "", fmt.Errorf("node %q %w in lab %s", t.Node, ErrNotFound, s.Plan.Name)
	}
	for _, p := range s.Plan.Pods {
		if p.Namespace == t.Namespace && p.Name == t.Pod {
			return p.Netns, nil
		}
	}
	return "", fmt.Errorf("pod %q %w in namespace %q of lab %s", t.Pod, ErrNotFound, t.Namespace, s.Plan.Name)
}

// Exec runs argv inside the target's namespace with the given stdio and
// returns the command's exit status.
func (s *State) Exec(t Target, argv []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	ns, err := s.Netns(t)
	if err != nil {
		return 1, err
	}
	if !kernel.NetnsExists(ns) {
		return 1, fmt.Errorf("namespace %s is missing: run `kinn up` to repair the lab", ns)
	}
	// Every command sees the namespace's own /sys (its links, not the
	// host's); a pod's also its hostname, resolv.conf and /etc/hosts.
	var v kernel.PodView
	if t.Pod != "" {
		if v, err = s.PodView(t.Namespace + "/" + t.Pod); err != nil {
			return 1, err
		}
	}
	cmd, err := v.Command(argv)
	if err != nil {
		return 1, err
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	if err := kernel.StartIn(ns, cmd); err != nil {
		return 127, fmt.Errorf("exec %s: %w", argv[0], err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	if err != nil {
		return 1, err
	}
	return 0, nil
}

// Live reports whether a namespace of the lab exists right now.
func Live(ns string) bool { return kernel.NetnsExists(ns) }
