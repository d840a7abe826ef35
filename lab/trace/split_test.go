package trace

import (
	"net/netip"
	"strings"
	"testing"
)

// TestHairpinVisits: a pod reaching itself through its Service leaves its
// namespace and comes back. The request is told as pod, node, pod again
// (not folded into one group whose route is the last one), and so is the
// answer, which begins in the pod and ends there.
func TestHairpinVisits(t *testing.T) {
	const pod, node = "pod", "node"
	places := map[string]Place{pod: {What: "pod", Node: "a", Pod: "x/web"}, node: {What: "node", Node: "a"}}
	syn, synT := header("10.244.1.5", "10.96.0.10", 0x2d, 64, 7, 40000, 80, 0x02)
	natSyn, natSynT := header("10.244.1.1", "10.244.1.5", 0x2d, 63, 7, 61000, 8080, 0x02)
	sa, saT := header("10.244.1.5", "10.244.1.1", 0, 64, 0, 8080, 61000, 0x12)
	unSa, unSaT := header("10.96.0.10", "10.244.1.5", 0, 63, 0, 80, 40000, 0x12)
	var evs []Event
	add := func(ns, chain string, id uint32, n, tr []byte) {
		evs = append(evs, Event{Netns: ns, Seq: len(evs), ID: id, Table: "kinn-trace-1", Chain: chain, Type: EventRule, Packet: ParsePacket(n, tr)})
	}
	add(pod, "output", 1, syn, synT)
	add(node, "prerouting", 2, syn, synT)
	add(node, "nat-postrouting", 2, nil, nil)
	add(pod, "prerouting", 3, natSyn, natSynT)
	add(pod, "output", 4, sa, saT)
	add(node, "prerouting", 5, sa, saT)
	add(node, "nat-postrouting", 5, nil, nil)
	add(pod, "prerouting", 6, unSa, unSaT)
	in := Input{Probe: ProbeResult{Outcome: Answered, Proto: "tcp"}, DSCP: 0x2d, Src: pod, Places: places, Events: evs,
		Hooks: map[string]string{"prerouting": "prerouting", "output": "output", "nat-postrouting": "postrouting"},
		Routes: map[string]Route{
			pod:              {Dst: netip.MustParseAddr("10.96.0.10"), Dev: "eth0", Gw: netip.MustParseAddr("10.244.1.1")},
			VisitKey(pod, 1): {Dst: netip.MustParseAddr("10.244.1.5"), Local: true},
			node:             {Dst: netip.MustParseAddr("10.244.1.5"), Dev: "cni0"},
		},
		Back: map[string]Route{
			pod:              {Dst: netip.MustParseAddr("10.244.1.1"), Dev: "eth0"},
			node:             {Dst: netip.MustParseAddr("10.244.1.5"), Dev: "cni0"},
			VisitKey(pod, 1): {Dst: netip.MustParseAddr("10.244.1.5"), Local: true},
		}}
	seen := PacketSeen(in, true)
	if s := seen[VisitKey(pod, 1)]; s.Netns != pod || s.Dst != netip.MustParseAddr("10.244.1.5") {
		t.Errorf("the return visit is seen as %+v", s)
	}
	if s := seen[pod]; s.Dst != netip.MustParseAddr("10.96.0.10") {
		t.Errorf("the first visit is seen as %+v, want the packet to the ClusterIP", s)
	}
	j := Explain(in)
	order := func(hops []Hop) string {
		var out []string
		prev := ""
		for _, h := range hops {
			if h.Namespace != prev {
				out = append(out, h.Namespace)
			}
			prev = h.Namespace
		}
		return strings.Join(out, " ")
	}
	if got := order(j.Request); got != "pod node pod" {
		t.Errorf("request visits %q, want pod node pod", got)
	}
	if got := order(j.Reply); got != "pod node pod" {
		t.Errorf("reply visits %q, want pod node pod", got)
	}
	if len(j.Request) == 0 || j.Request[0].Component != CompRoute || !strings.Contains(j.Request[0].Action, "10.96.0.10") {
		t.Errorf("the request does not begin with the route to the ClusterIP: %+v", j.Request)
	}
}
