package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kinn.dev/kinn/lab/kernel/kerneltest"
)

// TestLabs brings up the default lab, every example and kind's documented
// three-node configuration: every pod must reach every pod and its node,
// and down must leave the host exactly as it was.
func TestLabs(t *testing.T) {
	kerneltest.RequireRoot(t)
	files := []string{""}
	examples, _ := filepath.Glob("../../examples/*.yaml")
	files = append(files, examples...)
	files = append(files, "testdata/kind-docs-3node.yaml")
	for _, f := range files {
		name := filepath.Base(f)
		if f == "" {
			name = "builtin-default"
		}
		t.Run(name, func(t *testing.T) {
			if strings.HasPrefix(name, "cni-") {
				f = withPlugins(t, f)
			}
			before := kerneltest.HostSnapshot(t)
			e := newEnv(t, "e2e")
			e.up(f)
			if d := kerneltest.DiffLines(before, kerneltest.HostSnapshot(t)); d != "" {
				t.Errorf("up changed the host:\n%s", d)
			}
			if len(e.pods()) < 2 {
				t.Fatalf("lab has %d pods; a useful test needs at least 2", len(e.pods()))
			}
			if failed := e.pingAll(); len(failed) != 0 {
				t.Errorf("%d pings failed: %v", len(failed), failed)
			}
			// Running up again changes nothing.
			args := []string{"up", "--name", e.name}
			if f != "" {
				args = append(args, "-f", f)
			}
			if out := e.must(args...); !strings.Contains(out, "(0 kernel changes, 0 pods attached, 0 namespaces removed)") {
				t.Errorf("second up was not a no-op:\n%s", out)
			}
			e.must("down", "--name", e.name)
			e.assertGone()
			if d := kerneltest.DiffLines(before, kerneltest.HostSnapshot(t)); d != "" {
				t.Errorf("down left the host changed:\n%s", d)
			}
		})
	}
}

// TestInvalidTopology: several errors are all reported with FILE:LINE:COL,
// the exit status is 2, and nothing is created.
func TestInvalidTopology(t *testing.T) {
	e := newEnv(t, "bad")
	f := "testdata/invalid-several.yaml"
	out, errOut, code := e.run("up", "--name", e.name, "-f", f)
	if code != 2 {
		t.Fatalf("exit %d, want 2\n%s%s", code, out, errOut)
	}
	for _, want := range []string{f + ":8:14:", f + ":10:12:", f + ":11:3:", f + ":19:5:"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("missing an error at %s in:\n%s", want, errOut)
		}
	}
	e.assertGone()
	if _, err := os.Stat(filepath.Join(e.dirs[1], e.name)); err == nil {
		t.Error("state directory created for an invalid topology")
	}
}
