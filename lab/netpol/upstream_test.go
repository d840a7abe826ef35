package netpol_test

import (
	"fmt"
	"testing"

	"kinn.dev/kinn/lab/netpol"
	"kinn.dev/kinn/lab/netpol/netpoltest"
)

// TestUpstream runs upstream's netpol e2e cases on the 3x3 model: at every
// step, for every probe, the evaluator's table must equal upstream's expected
// table, the loopback diagonal ignored as upstream ignores it.
func TestUpstream(t *testing.T) {
	t.Parallel()
	w := netpoltest.NewWorld()
	cases := netpoltest.Cases(w.IP)
	if len(cases) < 25 {
		t.Fatalf("only %d upstream cases", len(cases))
	}
	for _, c := range cases {
		t.Run(c.Context+"/"+c.It, func(t *testing.T) {
			t.Parallel()
			for i, step := range c.Steps {
				cl, err := w.Cluster(step)
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				for _, p := range step.Probes {
					checkProbe(t, w, cl, fmt.Sprintf("step %d, %d/%s", i, p.Port, p.Protocol), p)
				}
			}
		})
	}
}

func checkProbe(t *testing.T, w *netpoltest.World, cl *netpol.Cluster, what string, p netpoltest.Probe) {
	t.Helper()
	pods := netpol.PodEndpoints(cl.Pods())
	got := cl.Matrix(pods, pods, p.Protocol, p.Port)
	want := p.Expected(w.PodStrings())
	cmp := want.Compare(got)
	if _, wrong, _ := cmp.Summary(true); wrong > 0 {
		t.Errorf("%s: %d cells differ\nexpected:\n%s\nevaluator:\n%s\ncomparison:\n%s",
			what, wrong, want.PrettyPrint("\t"), got.PrettyPrint("\t"), cmp.PrettyPrint("\t"))
	}
	for i := range got.Froms {
		if got.Cells[i][i] != netpol.Allowed {
			t.Errorf("%s: %s to itself denied; a pod's own address is always allowed", what, got.Froms[i])
		}
	}
}
