package cli_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"kinn.dev/kinn/lab/cni/cnitest"
	"kinn.dev/kinn/lab/kernel/kerneltest"
)

// conformance runs `kinn cni conformance -o json` with args and returns the
// verdict of each clause, its reason, and the exit status.
func conformance(t *testing.T, args ...string) (map[string]string, map[string]string, int) {
	t.Helper()
	kerneltest.RequireRoot(t)
	out, errOut, code := (&env{t: t}).run(append([]string{"cni", "conformance", "-o", "json"}, args...)...)
	var rep struct {
		ID      string
		Clauses []struct{ Clause, Result, Reason string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("conformance output: %v\n%s%s", err, out, errOut)
	}
	confRuns.Store(rep.ID, true)
	verdicts, reasons := map[string]string{}, map[string]string{}
	for _, c := range rep.Clauses {
		verdicts[c.Clause], reasons[c.Clause] = c.Result, c.Reason
	}
	return verdicts, reasons, code
}

// conflist writes a configuration list into a file of the test's.
func conflist(t *testing.T, plugins string) string {
	f := filepath.Join(t.TempDir(), "net.conflist")
	os.WriteFile(f, []byte(`{"cniVersion": "1.1.0", "name": "conf-net", "plugins": [`+plugins+`]}`), 0o644)
	return f
}

const (
	bridgeHostLocal = `{"type": "bridge", "bridge": "cni0", "isGateway": true, "mtu": 1450,
	  "ipam": {"type": "host-local", "ranges": [[{"subnet": "{{.PodCIDR}}"}]], "routes": [{"dst": "0.0.0.0/0"}]}}`
	ptpHostLocal = `{"type": "ptp", "mtu": 1450,
	  "ipam": {"type": "host-local", "ranges": [[{"subnet": "{{.PodCIDR}}"}]], "routes": [{"dst": "0.0.0.0/0"}]}}`
	portmap = `{"type": "portmap", "capabilities": {"portMappings": true}}`
)

// confRuns are the IDs of this test binary's conformance runs: another
// suite running at the same time has runs of its own, which are not ours
// to judge.
var confRuns sync.Map

// noneLeft checks that this binary's runs left none of their namespaces:
// called once the parallel runs are done, since they see each other's.
func noneLeft(t *testing.T) {
	var left []string
	confRuns.Range(func(id, _ any) bool {
		left = append(left, kerneltest.Namespaces("kinnconf-"+id.(string)+"-")...)
		return true
	})
	if len(left) > 0 {
		t.Errorf("the runs left namespaces: %v", left)
	}
}

// clauses every run of a 1.1.0 chain judges.
var clauses = []string{"VERSION", "STATUS", "ADD", "ADD result", "ADD sandbox interface", "CHECK", "DEL", "DEL twice",
	"DEL never added", "DEL namespace gone", "ADD existing interface", "DEL after failed ADD", "GC with valid attachments",
	"GC without valid attachments", "error codes", "error JSON", "cniVersion 0.3.0", "cniVersion 0.4.0", "cniVersion 1.0.0", "cleanup after DEL"}

// TestConformanceReferencePlugins: the reference chains pass every clause
// (GC's SHOULDs may warn: bridge v1.10.0 does not pass GC on to IPAM).
func TestConformanceReferencePlugins(t *testing.T) {
	kerneltest.RequireRoot(t)
	bin := cnitest.Plugins(t)
	defer noneLeft(t)
	t.Run("chains", func(t *testing.T) { referenceChains(t, bin) })
}

func referenceChains(t *testing.T, bin string) {
	for name, plugins := range map[string]string{
		"bridge":         bridgeHostLocal,
		"ptp":            ptpHostLocal,
		"bridge+portmap": bridgeHostLocal + "," + portmap,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			verdicts, reasons, code := conformance(t, "-f", conflist(t, plugins), "--bin-dir", bin)
			for _, c := range clauses {
				if v := verdicts[c]; v != "pass" && (v != "warn" || !strings.HasPrefix(c, "GC")) {
					t.Errorf("%s: %q (%s)", c, v, reasons[c])
				}
			}
			if strings.Contains(plugins, "portmap") && verdicts["ADD prevResult chaining"] != "pass" {
				t.Errorf("ADD prevResult chaining: %q (%s)", verdicts["ADD prevResult chaining"], reasons["ADD prevResult chaining"])
			}
			if code != 0 {
				t.Errorf("exit %d", code)
			}
		})
	}
}

// TestConformanceKinnPlugin: the chain of a lab without a cni block is
// kinn's own plugin, judged with the lab's node values in namespaces of
// the run's own; the lab keeps working.
func TestConformanceKinnPlugin(t *testing.T) {
	kerneltest.RequireRoot(t)
	e := newEnv(t, "cnfk")
	e.up("")
	before := kerneltest.Namespaces("kinn." + e.name + ".")
	out, errOut, code := e.run("cni", "conformance", "--name", e.name)
	if code != 0 {
		t.Errorf("exit %d:\n%s%s", code, out, errOut)
	}
	if m := regexp.MustCompile(`\(run ([0-9a-f]+)\)`).FindStringSubmatch(out); m != nil {
		confRuns.Store(m[1], true)
	} else {
		t.Errorf("no run ID in:\n%s", out)
	}
	for _, c := range clauses {
		if !strings.Contains(out, "\n"+c+" ") {
			t.Errorf("no clause %s in:\n%s", c, out)
		}
	}
	if !strings.Contains(out, "network kinn (kinn)") {
		t.Errorf("not kinn's plugin:\n%s", out)
	}
	if after := kerneltest.Namespaces("kinn." + e.name + "."); strings.Join(after, " ") != strings.Join(before, " ") {
		t.Errorf("the lab's namespaces changed: %v, now %v", before, after)
	}
	noneLeft(t)
}

// TestConformanceBrokenPlugins: plugins broken on purpose, chained after
// ptp, fail the clause that names their mistake, and the command exits 1.
func TestConformanceBrokenPlugins(t *testing.T) {
	kerneltest.RequireRoot(t)
	bin := cnitest.Link(t, "ptp", "host-local")
	broken := filepath.Join(bin, "broken")
	if out, err := exec.Command("go", "build", "-o", broken, "./testdata/brokencni").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	defer noneLeft(t)
	t.Run("modes", func(t *testing.T) { brokenModes(t, bin, broken) })
}

func brokenModes(t *testing.T, bin, broken string) {
	for _, tc := range []struct{ mode, clause, want string }{
		{"del-twice", "DEL twice", "nothing to delete"},
		{"leak-link", "cleanup after DEL", "link lk"},
		{"bad-error", "error JSON", `no "code"`},
		{"ignore-prev", "ADD prevResult chaining", "dropped interface eth0 of prevResult"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			t.Parallel()
			typ := "broken-" + tc.mode
			os.Symlink(broken, filepath.Join(bin, typ))
			list := conflist(t, ptpHostLocal+`, {"type": "`+typ+`", "stateDir": "`+t.TempDir()+`"}`)
			verdicts, reasons, code := conformance(t, "-f", list, "--bin-dir", bin)
			if verdicts[tc.clause] != "fail" || !strings.Contains(reasons[tc.clause], tc.want) {
				t.Errorf("%s: %q (%s), want fail with %q", tc.clause, verdicts[tc.clause], reasons[tc.clause], tc.want)
			}
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			if strings.Contains(tc.mode, "link") {
				if out, _ := exec.Command("ip", "-o", "link").CombinedOutput(); strings.Contains(string(out), "lk") {
					t.Errorf("a leaked link reached the host's namespace:\n%s", out)
				}
			}
		})
	}
}
