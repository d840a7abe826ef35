package check

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"kinn.dev/kinn/lab/kernel"
	"kinn.dev/kinn/lab/kernel/kerneltest"
	"kinn.dev/kinn/lab/probe"
)

// TestPingTargetsOnTheirOwn: a pod that cannot send to one target (no route
// to it: sendto fails) still reaches the others, and each cell shows its own
// outcome, not the first target's error. The namespace has loopback only,
// so nothing leaves it.
func TestPingTargetsOnTheirOwn(t *testing.T) {
	ns := kerneltest.NewLab(t, "vicmp").Netns("pod")
	if _, err := kernel.CreateNetns(ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kernel.DeleteNetns(ns) })
	if out, err := exec.Command("ip", "-n", ns, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("lo up: %v: %s", err, out)
	}
	from := Host{Name: "a", Netns: ns}
	cells := []Cell{
		{From: "a", To: "far", Proto: "ICMP", Addr: "10.255.255.1", Expect: Pass, from: from}, // no route: sendto fails
		{From: "a", To: "near", Proto: "ICMP", Addr: "127.0.0.1", Expect: Pass, from: from},
	}
	Run(context.Background(), kernel.Do, cells)
	if c := cells[0]; c.Passed || c.Result != string(probe.Failed) || !strings.Contains(c.Detail, "unreachable") {
		t.Errorf("the unroutable target: %+v, want failed with the kernel's error", c)
	}
	if c := cells[1]; !c.Passed || c.Result != string(probe.OK) {
		t.Errorf("loopback, reachable: %+v, want ok", c)
	}
}
