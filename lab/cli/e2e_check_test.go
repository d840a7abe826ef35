package cli_test

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// TestCheckSummaryNamesBrokenPair: with one node's route to another's pod
// CIDR deleted, `kinn check` fails (exit 1) and its summary, before the
// rows, names the broken pair both ways (requests one way, replies the
// other) and leaves the unbroken pairs out; the rows are the failing ones
// alone, -v lists everything, and -o json carries the same summary.
func TestCheckSummaryNamesBrokenPair(t *testing.T) {
	e := newEnv(t, "hsum")
	e.up("")
	e.checkPasses()
	cidr := map[string]string{}
	for _, n := range e.nodes() {
		cidr[n.Name] = n.Spec.PodCIDR
	}
	from, to := "kinn-worker2", "kinn-worker"
	if out, err := exec.Command("ip", "-n", "kinn."+e.name+".node."+from, "route", "del", cidr[to]).CombinedOutput(); err != nil {
		t.Fatalf("break the route: %v: %s", err, out)
	}

	out, _, code := e.run("check", "--name", e.name)
	if code != 1 {
		t.Errorf("check on a broken lab: exit %d, want 1", code)
	}
	if !strings.HasPrefix(out, "By source node -> destination:\n") || strings.Index(out, "By kind:") > strings.Index(out, "FROM") {
		t.Errorf("the summary does not come first:\n%s", out)
	}
	for _, pair := range []string{from + " -> " + to + ":", to + " -> " + from + ":"} {
		if line := lineWith(out, "  "+pair); line == "" || strings.HasSuffix(line, " 0 failed") {
			t.Errorf("the summary does not name %s as failing:\n%s", pair, out)
		}
	}
	if lineWith(out, "kinn-control-plane -> kinn-control-plane:") != "" || !strings.Contains(out, "other pairs:") {
		t.Errorf("an unbroken pair is listed without -v:\n%s", out)
	}
	if !strings.Contains(lineWith(out, "ICMP pod→pod:"), "failed") || strings.Contains(out, "✓") {
		t.Errorf("by kind, or the rows (failing ones alone):\n%s", out)
	}
	if v, _, _ := e.run("check", "--name", e.name, "-v"); !strings.Contains(v, "kinn-control-plane -> kinn-control-plane:") || !strings.Contains(v, "✓") {
		t.Errorf("check -v lists neither every pair nor the passing rows:\n%s", v)
	}

	js, _, code := e.run("check", "--name", e.name, "-o", "json")
	var res struct {
		Summary struct {
			Failed  int
			ByNodes []struct {
				From, To       string
				Passed, Failed int
			}
			ByKind []struct {
				Kind   string
				Failed int
			}
		}
	}
	if err := json.Unmarshal([]byte(js), &res); err != nil || code != 1 {
		t.Fatalf("check -o json: exit %d, %v\n%s", code, err, js)
	}
	// Six pings each way (three pods on one node, two on the other) fail;
	// a NodePort cell fails or not as its endpoint is picked.
	broken := 0
	for _, p := range res.Summary.ByNodes {
		if (p.From == from && p.To == to || p.From == to && p.To == from) && p.Failed >= 6 {
			broken++
		}
	}
	if broken != 2 || len(res.Summary.ByKind) == 0 || res.Summary.Failed == 0 {
		t.Errorf("the JSON summary does not name %s <-> %s: %+v", from, to, res.Summary)
	}
}
