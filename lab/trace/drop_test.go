package trace

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
)

// TestTraceDropReasons: the kernel's reason becomes a drop hop after the last
// hop of its namespace, in plain words with the raw reason kept, and names
// the verdict; a NETFILTER_DROP nftables already named is not repeated.
func TestTraceDropReasons(t *testing.T) {
	places := map[string]Place{
		"pod-a": {Netns: "pod-a", Node: "w1", Pod: "default/a", What: "pod"},
		"node1": {Netns: "node1", Node: "w1", What: "node"},
		"pod-b": {Netns: "pod-b", Node: "w1", Pod: "default/b", What: "pod"},
	}
	probe := ProbeResult{Proto: "udp", Dst: netip.MustParseAddrPort("10.244.1.3:9999"), Outcome: Refused, Error: "connection refused"}
	in := Input{Probe: probe, Src: "pod-a", Places: places,
		Routes: map[string]Route{"pod-a": {Netns: "pod-a", Dst: probe.Dst.Addr(), Dev: "eth0"}},
		Drops: []KernelDrop{
			{Netns: "pod-b", Reason: "NO_SOCKET", Symbol: "__udp4_lib_rcv+0x5e", Dev: "eth0"},
			{Netns: "pod-b", Reason: "NO_SOCKET"}, // the same, once more: told once
		}}
	j := Explain(in)
	last := j.Request[len(j.Request)-1]
	if last.Component != CompDrop || last.Pod != "default/b" || last.Action != "no socket listens on that port" ||
		!strings.Contains(last.Detail, "NO_SOCKET") || !strings.Contains(last.Detail, "__udp4_lib_rcv") {
		t.Errorf("last hop %+v, want the kernel's NO_SOCKET in pod default/b", last)
	}
	if n := strings.Count(strings.Join(actions(j.Request), "\n"), "no socket"); n != 1 {
		t.Errorf("NO_SOCKET told %d times, want once", n)
	}
	if !strings.Contains(j.Summary, "in default/b: no socket listens on that port") {
		t.Errorf("summary %q does not name the kernel's reason", j.Summary)
	}

	// Placed after its namespace's hops, before the next namespace's.
	in.Drops = []KernelDrop{{Netns: "pod-a", Reason: "NEIGH_FAILED"}}
	in.Routes["node1"] = Route{Netns: "node1", Dst: probe.Dst.Addr(), Dev: "cni0"}
	j = Explain(in)
	if j.Request[1].Component != CompDrop || j.Request[1].Namespace != "pod-a" {
		t.Errorf("drop not placed after pod-a's hops: %+v", j.Request)
	}

	// nftables named the dropping rule: the kernel's NETFILTER_DROP there
	// adds nothing; elsewhere it does.
	j = Journey{Request: []Hop{{Namespace: "node1", Component: CompDrop, Action: "drop"}}}
	in.Drops = []KernelDrop{{Netns: "node1", Reason: "NETFILTER_DROP"}, {Netns: "pod-b", Reason: "NETFILTER_DROP"}}
	in.addKernelDrops(&j)
	if len(j.Request) != 2 || j.Request[1].Namespace != "pod-b" || j.Request[1].Action != "dropped by an nftables rule" {
		t.Errorf("NETFILTER_DROP hops %+v, want only pod-b's", j.Request)
	}

	// An answered probe's drops (a late retransmission) are not its end.
	in.Probe.Outcome = Answered
	if j := Explain(in); strings.Contains(strings.Join(actions(j.Request), "\n"), "nftables rule") {
		t.Errorf("a delivered journey got the kernel's drops: %+v", j.Request)
	}

	if got := ReasonWords("SOME_NEW_REASON"); got != "dropped by the kernel: some new reason" {
		t.Errorf("unknown reason told as %q", got)
	}
	var b bytes.Buffer
	WriteText(&b, "t", Journey{Verdict: Dropped, Notes: []string{"no drop reasons here"}}, true)
	if !strings.Contains(b.String(), "note: no drop reasons here") {
		t.Errorf("-v text lacks the note:\n%s", b.String())
	}
}

func actions(hops []Hop) []string {
	var out []string
	for _, h := range hops {
		out = append(out, h.Action)
	}
	return out
}
