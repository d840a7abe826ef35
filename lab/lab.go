// Package lab is kinn's engine: it takes a resolved topology to a running
// lab (Up), removes one (Down), and reads what a lab is (Load). Up is a
// reconcile loop: allocate addresses, compute the desired state (lab/plan),
// observe each namespace, apply only the difference (lab/kernel), and attach
// pods through CNI (lab/cni). Running it twice changes nothing; running it
// after drift, a crash or a kill puts things back.
package lab

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	"kinn.dev/kinn/lab/kernel"
	"kinn.dev/kinn/lab/plan"
	"kinn.dev/kinn/topology"
)

// Default roots of the state and runtime directories.
const (
	DefaultStateRoot   = "/var/lib/kinn"
	DefaultRuntimeRoot = "/run/kinn"
)

// Options locate a lab's directories and where progress goes.
type Options struct {
	StateRoot   string    // holds <lab>/: addresses, CNI cache, the applied topology
	RuntimeRoot string    // holds <lab>/: lock, pids, sockets
	Progress    io.Writer // short progress lines; nil for none
	// LockWait is how long to wait for the lab's lock while another command
	// holds it: 0 means 5 s, a negative value not at all (the lab process,
	// which retries on its own, must never hold up the command that holds
	// the lock and waits for it).
	LockWait time.Duration
}

func (o Options) withDefaults() Options {
	if o.StateRoot == "" {
		o.StateRoot = DefaultStateRoot
	}
	if o.RuntimeRoot == "" {
		o.RuntimeRoot = DefaultRuntimeRoot
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	return o
}

// StateDir and RuntimeDir are one lab's directories. Callers pass a name
// that passed CheckName (Pick, Up, Down, Load and Edit check it), so the
// result is always a direct child of its root.
func (o Options) StateDir(lab string) string {
	return filepath.Join(o.withDefaults().StateRoot, lab)
}
func (o Options) RuntimeDir(lab string) string {
	return filepath.Join(o.withDefaults().RuntimeRoot, lab)
}

// CheckName refuses a name that cannot be a lab's, before any path or
// namespace name is built from it: `--name ..` would otherwise make a
// lab's directory the parent of its root, and `--name X.pod` select lab
// X's pods. A DNS-1123 label is all that takes; new labs must also fit
// every derived name (topology.CheckLabName, checked by up), but a lab
// made by an older kinn under a longer label can still be read and removed.
func CheckName(name string) error {
	if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
		return topology.CheckLabName(name) // its message says what a name is
	}
	return nil
}

// childOf proves that dir is a direct child of root, for the commands that
// remove a lab's directories: the last guard before RemoveAll.
func childOf(root, dir string) error {
	rel, err := filepath.Rel(filepath.Clean(root), filepath.Clean(dir))
	if err != nil || rel == "." || rel == ".." || strings.Contains(rel, string(filepath.Separator)) || strings.HasPrefix(rel, "..") {
		return fmt.Errorf("refusing to remove %s: not a lab directory directly under %s", dir, root)
	}
	return nil
}

func (o Options) progress(format string, a ...any) {
	progressMu.Lock() // nodes are brought up in parallel
	defer progressMu.Unlock()
	fmt.Fprintf(o.withDefaults().Progress, format+"\n", a...)
}

var progressMu sync.Mutex

// List names the labs that exist: those with namespaces, a state directory
// or a runtime directory. Only valid lab names count: anything else in the
// roots (lost+found, a file put there by hand) is not a lab to act on.
func List(o Options) ([]string, error) {
	o = o.withDefaults()
	seen := map[string]bool{}
	nss, err := kernel.ListNetns("kinn.")
	if err != nil {
		return nil, err
	}
	for _, n := range nss {
		if name, _, ok := strings.Cut(strings.TrimPrefix(n, "kinn."), "."); ok {
			seen[name] = true
		}
	}
	for _, root := range []string{o.StateRoot, o.RuntimeRoot} {
		ents, err := os.ReadDir(root)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		for _, e := range ents {
			if e.IsDir() {
				seen[e.Name()] = true
			}
		}
	}
	var out []string
	for n := range seen {
		if CheckName(n) == nil {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Pick chooses the lab a command acts on: the named one (--name, else
// KINN_LAB), else the current one (kinn use), else the only lab that
// exists, else "kinn".
func Pick(o Options, name string) (string, error) {
	if name != "" {
		return name, CheckName(name)
	}
	cur, err := Current(o)
	if cur != "" || err != nil {
		return cur, err
	}
	labs, err := List(o)
	if err != nil {
		return "", err
	}
	switch len(labs) {
	case 0:
		return "kinn", nil
	case 1:
		return labs[0], nil
	}
	return "", fmt.Errorf("%d labs exist (%s): pick one with --name, KINN_LAB=NAME or kinn use NAME", len(labs), strings.Join(labs, ", "))
}

// namespaces lists the namespaces of a lab by kind.
func namespaces(lab string) (pods, nodes, other []string, err error) {
	all, err := kernel.ListNetns(plan.NetnsPrefix(lab))
	if err != nil {
		return nil, nil, nil, err
	}
	for _, n := range all {
		rest := strings.TrimPrefix(n, plan.NetnsPrefix(lab))
		switch {
		case strings.HasPrefix(rest, "pod."):
			pods = append(pods, n)
		case strings.HasPrefix(rest, "node."):
			nodes = append(nodes, n)
		default:
			other = append(other, n)
		}
	}
	return pods, nodes, other, nil
}
