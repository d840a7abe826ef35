package netpol_test

import (
	"strings"
	"testing"

	"kinn.dev/kinn/lab/netpol"
	"kinn.dev/kinn/lab/netpol/netpoltest"
)

// upstreamExample is the expected table printed in network_policy.go's
// header comment, for a policy letting only namespace y reach x/a.
const upstreamExample = `-	x/a	x/b	x/c	y/a	y/b	y/c	z/a	z/b	z/c
x/a	X	.	.	.	.	.	.	.	.
x/b	X	.	.	.	.	.	.	.	.
x/c	X	.	.	.	.	.	.	.	.
y/a	.	.	.	.	.	.	.	.	.
y/b	.	.	.	.	.	.	.	.	.
y/c	.	.	.	.	.	.	.	.	.
z/a	X	.	.	.	.	.	.	.	.
z/b	X	.	.	.	.	.	.	.	.
z/c	X	.	.	.	.	.	.	.	.`

func TestPrettyPrintAsUpstream(t *testing.T) {
	t.Parallel()
	w := netpoltest.NewWorld()
	var c netpoltest.Case
	for _, cc := range netpoltest.Cases(w.IP) {
		if cc.It == "should enforce policy to allow traffic only from a different namespace, based on NamespaceSelector" {
			c = cc
		}
	}
	step := c.Steps[0]
	want := step.Probes[0].Expected(w.PodStrings())
	if got := want.PrettyPrint(""); got != upstreamExample {
		t.Fatalf("expected table:\n%s\nwant upstream's:\n%s", got, upstreamExample)
	}
	cl, err := w.Cluster(step)
	if err != nil {
		t.Fatal(err)
	}
	pods := netpol.PodEndpoints(cl.Pods())
	got := cl.Matrix(pods, pods, step.Probes[0].Protocol, step.Probes[0].Port)
	// The evaluator allows x/a to itself (it never leaves the pod), the one
	// cell upstream ignores.
	diag := strings.Replace(upstreamExample, "x/a\tX", "x/a\t.", 1)
	if got.PrettyPrint("") != diag {
		t.Errorf("evaluator's table:\n%s", got.PrettyPrint(""))
	}
	cmp := want.Compare(got)
	if right, wrong, ignored := cmp.Summary(true); right != 72 || wrong != 0 || ignored != 9 {
		t.Errorf("summary = %d correct, %d incorrect, %d ignored; want 72, 0, 9", right, wrong, ignored)
	}
	if right, wrong, _ := cmp.Summary(false); right != 80 || wrong != 1 {
		t.Errorf("summary without ignoring loopback = %d, %d; want 80, 1", right, wrong)
	}
	partial := netpol.NewTruthTable(want.Froms, want.Tos)
	if line := strings.Split(want.Compare(partial).PrettyPrint("  "), "\n")[1]; line != "  x/a\t?\t?\t?\t?\t?\t?\t?\t?\t?" {
		t.Errorf("unknown cells print as %q", line)
	}
}
