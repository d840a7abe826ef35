package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kinn.dev/kinn/lab/kernel/kerneltest"
)

// The safety tests act as a careless or hostile user would: names and
// directories that could reach outside a lab, or into another lab.

// smallLab writes a two-node topology with a few pods and returns its path.
func smallLab(t *testing.T) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "small.yaml")
	if err := os.WriteFile(f, []byte(kerneltest.Topology("", 2, 3)), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestLabNameCannotLeaveItsRoot: `down --name ..` once removed the parents
// of both roots; names that are not DNS labels are refused by every verb
// before any path is built from them, and nothing outside is touched.
func TestLabNameCannotLeaveItsRoot(t *testing.T) {
	kerneltest.RequireRoot(t)
	parent := t.TempDir()
	state, run := filepath.Join(parent, "state"), filepath.Join(parent, "run")
	sentinel := filepath.Join(parent, "keep-me")
	os.WriteFile(sentinel, []byte("x"), 0o644)
	dirs := []string{"--state-dir", state, "--run-dir", run}
	for _, args := range [][]string{
		{"down", "--name", ".."},
		{"down", "--name", "."},
		{"down", "--name", "../state"},
		{"up", "--name", ".."},
		{"up", "--name", "RS_Bad"},
		{"up", "--name", "a.b"},
		{"up", "--name", strings.Repeat("a", 60)},
		{"get", "pods", "--name", ".."},
		{"exec", "--name", "..", "node/x", "--", "true"},
	} {
		out, err := kinnCmd(dirs, args...).CombinedOutput()
		if err == nil {
			t.Errorf("kinn %s: want an error, got success:\n%s", strings.Join(args, " "), out)
		}
		if !strings.Contains(string(out), "to name a lab") {
			t.Errorf("kinn %s: want the name refused, got:\n%s", strings.Join(args, " "), out)
		}
	}
	if _, err := os.Stat(sentinel); err != nil {
		t.Fatalf("a file beside the roots was removed: %v", err)
	}
	for _, n := range []string{"..", "RS_Bad", "a.b"} {
		if ns := kerneltest.Namespaces("kinn." + n + "."); len(ns) != 0 {
			t.Errorf("namespaces made for %q: %v", n, ns)
		}
	}
}

// TestLabNameWithDotCannotReachAnotherLab: `down --name X.pod` once
// removed every pod namespace of lab X, selected by the prefix
// "kinn.X.pod.".
func TestLabNameWithDotCannotReachAnotherLab(t *testing.T) {
	e := newEnv(t, "dot")
	e.up(smallLab(t))
	before := kerneltest.Namespaces("kinn." + e.name + ".")
	for _, n := range []string{e.name + ".pod", e.name + ".node", e.name + "."} {
		if _, _, code := e.run("down", "--name", n); code == 0 {
			t.Errorf("down --name %s succeeded", n)
		}
	}
	if after := kerneltest.Namespaces("kinn." + e.name + "."); len(after) != len(before) {
		t.Fatalf("lab %s lost namespaces: %d before, %d after", e.name, len(before), len(after))
	}
	if failed := e.pingAll(); len(failed) != 0 {
		t.Errorf("lab broken after the refused downs: %v", failed)
	}
}

// TestSameNameOtherDirs: the same lab name under other state and runtime
// roots once took over the first lab's namespaces and started a second lab
// process. Namespace names are machine-wide, so the second is refused,
// by up and by down, and the first lab keeps working with one lab process.
func TestSameNameOtherDirs(t *testing.T) {
	e := newEnv(t, "owner")
	f := smallLab(t)
	e.up(f)
	other := []string{"--state-dir", t.TempDir(), "--run-dir", t.TempDir()}
	out, err := kinnCmd(other, "up", "--name", e.name, "-f", f).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "another state directory") {
		t.Errorf("up of the same name from other directories: want a refusal naming the owner, got %v:\n%s", err, out)
	}
	out, err = kinnCmd(other, "down", "--name", e.name).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "another state directory") {
		t.Errorf("down of the same name from other directories: want a refusal, got %v:\n%s", err, out)
	}
	if p := kerneltest.Processes(e.name); len(p) != 1 {
		t.Errorf("want the first lab's one lab process, found %d: %v", len(p), p)
	}
	if failed := e.pingAll(); len(failed) != 0 {
		t.Errorf("first lab broken: %v", failed)
	}
	e.checkPasses()
}
