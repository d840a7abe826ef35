package trace

import (
	"net/netip"
	"strings"
	"testing"
)

const (
	l2Node1, l2Node2 = "ns-w1", "ns-w2"
	l2Web, l2Client  = "ns-web", "ns-client"
	vtepMAC1         = "aa:00:00:00:00:01" // w1's VTEP
)

var a = netip.MustParseAddr

// l2Input is a two-node VXLAN lab as kinn plans it: client on w2, web on
// w1, each node with kinn's route, neighbour and FDB entry for the other.
func l2Input() Input {
	p := netip.MustParsePrefix
	return Input{
		Probe: ProbeResult{Proto: "tcp", Outcome: Answered},
		Places: map[string]Place{
			l2Node1: {Netns: l2Node1, Node: "w1", What: "node"}, l2Node2: {Netns: l2Node2, Node: "w2", What: "node"},
			l2Web:    {Netns: l2Web, Node: "w1", Pod: "default/web", What: "pod"},
			l2Client: {Netns: l2Client, Node: "w2", Pod: "default/client", What: "pod"},
		},
		Net: Net{VTEP: "vxlan.1", Bridge: "cni0", SwitchIP: a("172.18.0.1"),
			Nodes: []NetNode{
				{Name: "w1", Underlay: a("172.18.0.3"), PodCIDR: p("10.244.1.0/24"), Gateway: a("10.244.1.1")},
				{Name: "w2", Underlay: a("172.18.0.4"), PodCIDR: p("10.244.2.0/24"), Gateway: a("10.244.2.1")},
			},
			Planned: map[string]Planned{
				l2Node2: {
					Routes: []PlannedRoute{{Dst: p("0.0.0.0/0"), Gw: a("172.18.0.1"), Dev: "eth0"},
						{Dst: p("10.244.1.0/24"), Gw: a("10.244.1.0"), Dev: "vxlan.1", Onlink: true},
						{Dst: p("10.244.2.0/24"), Dev: "cni0"}},
					Neigh: []Neigh{{Dev: "vxlan.1", IP: a("10.244.1.0"), MAC: vtepMAC1}},
					FDB:   []FDBEntry{{Dev: "vxlan.1", MAC: vtepMAC1, Dst: a("172.18.0.3")}},
				},
				l2Node1: {Ports: map[string]string{"veth1": "pod default/web"}},
			},
			Pods: map[netip.Addr]string{a("10.244.1.3"): "default/web", a("10.244.2.2"): "default/client"},
		},
	}
}

var vtep2 = &VTEP{Dev: "vxlan.1", Local: a("172.18.0.4"), VNI: 1, Port: 8472}

// overVXLAN is w2's route to web, through the VXLAN device, with the
// kernel's entries as kinn programs them.
func overVXLAN() Route {
	return Route{Netns: l2Node2, Dst: a("10.244.1.3"), Src: a("10.244.2.2"), IIF: "cni0", Dev: "vxlan.1", Gw: a("10.244.1.0"),
		L2: &L2{Matched: netip.MustParsePrefix("10.244.1.0/24"), NextHop: a("10.244.1.0"), MAC: vtepMAC1,
			Neigh: &Neigh{Dev: "vxlan.1", IP: a("10.244.1.0"), MAC: vtepMAC1, State: "PERMANENT"},
			FDB:   &FDBEntry{Dev: "vxlan.1", MAC: vtepMAC1, Dst: a("172.18.0.3"), Permanent: true}, Out: vtep2}}
}

// words is each hop as "component: action / detail", to match on.
func words(hops []Hop) []string {
	var out []string
	for _, h := range hops {
		out = append(out, h.Component+": "+h.Action+" / "+h.Detail)
	}
	return out
}

// wantHops checks one hop per want, in order, each with all its words.
func wantHops(t *testing.T, what string, hops []Hop, want ...[]string) {
	t.Helper()
	got := words(hops)
	if len(got) != len(want) {
		t.Errorf("%s: %d hops, want %d:\n%s", what, len(got), len(want), strings.Join(got, "\n"))
		return
	}
	for i, ws := range want {
		for _, w := range ws {
			if !strings.Contains(got[i], w) {
				t.Errorf("%s: hop %d %q lacks %q", what, i+1, got[i], w)
			}
		}
	}
}

func TestLayer2Departure(t *testing.T) {
	node2 := Hop{Namespace: l2Node2, Node: "w2"}
	in := l2Input()
	wantHops(t, "over VXLAN", in.departure(node2, overVXLAN(), in.Places[l2Node2]),
		[]string{"neighbour: 10.244.1.0 is " + vtepMAC1 + " on vxlan.1", "PERMANENT, set by kinn: the VTEP of node w1"},
		[]string{"fdb: " + vtepMAC1 + " -> VTEP 172.18.0.3 (w1)", "permanent, set by kinn"},
		[]string{"vxlan: encapsulated: outer 172.18.0.4 -> 172.18.0.3 UDP 8472 VNI 1", "to node w1"})

	// The FDB entry deleted by hand, the probe lost: the drop names it,
	// with the kernel's own reason joined rather than told again.
	r := overVXLAN()
	r.L2.FDB = nil
	in.Probe.Outcome = NoAnswer
	in.Drops = []KernelDrop{{Netns: l2Node2, Reason: "NO_TX_TARGET", Symbol: "vxlan_xmit", Dev: "vxlan.1"}}
	wantHops(t, "FDB entry missing", in.departure(node2, r, in.Places[l2Node2]),
		[]string{"neighbour: "},
		[]string{"drop: no FDB entry for " + vtepMAC1 + " on vxlan.1 in node w2: the VXLAN device does not know which node has 10.244.1.0/24",
			"kinn programs " + vtepMAC1 + " -> 172.18.0.3 (node w1)", "kernel drop reason NO_TX_TARGET in vxlan_xmit"})
	// Answered all the same (an entry of the user's own elsewhere?): not a drop.
	in.Probe.Outcome = Answered
	wantHops(t, "FDB entry missing, answered", in.departure(node2, r, in.Places[l2Node2]),
		[]string{"neighbour: "}, []string{"fdb: no FDB entry for "})

	// The route deleted by hand: the FIB fell back on the default route.
	in.Probe.Outcome = NoAnswer
	r = Route{Netns: l2Node2, Dst: a("10.244.1.3"), Src: a("10.244.2.2"), IIF: "cni0", Dev: "eth0", Gw: a("172.18.0.1"),
		L2: &L2{Matched: netip.MustParsePrefix("0.0.0.0/0"), NextHop: a("172.18.0.1"), MAC: "aa:00:00:00:00:ff",
			Neigh: &Neigh{Dev: "eth0", IP: a("172.18.0.1"), MAC: "aa:00:00:00:00:ff", State: "PERMANENT"}}}
	wantHops(t, "route missing", in.departure(node2, r, in.Places[l2Node2]),
		[]string{"drop: no route to w1's pods (10.244.1.0/24 via 10.244.1.0 dev vxlan.1 onlink) in node w2", "the FIB matched the route for 0.0.0.0/0 instead"},
		[]string{"neighbour: 172.18.0.1 is aa:00:00:00:00:ff on eth0", "PERMANENT: the switch"})

	// The neighbour deleted by hand: the kernel could not resolve it.
	r = overVXLAN()
	r.L2.Neigh, r.L2.FDB, r.L2.MAC = &Neigh{Dev: "vxlan.1", IP: a("10.244.1.0"), State: "INCOMPLETE"}, nil, ""
	wantHops(t, "neighbour missing", in.departure(node2, r, in.Places[l2Node2]),
		[]string{"drop: neighbour 10.244.1.0 on vxlan.1 did not resolve (INCOMPLETE) in node w2", "kinn sets it permanently to " + vtepMAC1 + " (the VTEP of node w1)"})

	// A neighbour kinn sets, changed by hand, is not "set by kinn".
	in.Probe.Outcome = Answered
	r = overVXLAN()
	r.L2.Neigh.MAC = "aa:00:00:00:00:99"
	if got := words(in.departure(node2, r, in.Places[l2Node2]))[0]; !strings.Contains(got, "changed by hand") || strings.Contains(got, "set by kinn") {
		t.Errorf("a neighbour changed by hand told as %q", got)
	}
}

func TestLayer2Bridges(t *testing.T) {
	in := l2Input()
	node1 := Hop{Namespace: l2Node1, Node: "w1"}
	toWeb := Route{Netns: l2Node1, Dst: a("10.244.1.3"), Src: a("10.244.2.2"), IIF: "vxlan.1", Dev: "cni0",
		L2: &L2{Matched: netip.MustParsePrefix("10.244.1.0/24"), NextHop: a("10.244.1.3"), MAC: "0a:58:0a:f4:01:03", Bridge: true, In: &VTEP{Dev: "vxlan.1", Local: a("172.18.0.3"), VNI: 1, Port: 8472},
			Neigh: &Neigh{Dev: "cni0", IP: a("10.244.1.3"), MAC: "0a:58:0a:f4:01:03", State: "REACHABLE"},
			FDB:   &FDBEntry{Dev: "cni0", MAC: "0a:58:0a:f4:01:03", Port: "veth1"}}}
	wantHops(t, "decapsulated", in.arrival(node1, toWeb, in.Places[l2Node1]),
		[]string{"vxlan: decapsulated from w2 (VNI 1) by vxlan.1", "10.244.2.2 is in w2's pod CIDR 10.244.2.0/24"})
	wantHops(t, "to a pod of the node", in.departure(node1, toWeb, in.Places[l2Node1]),
		[]string{"neighbour: 10.244.1.3 is 0a:58:0a:f4:01:03 on cni0", "REACHABLE, learned by ARP: pod default/web"},
		[]string{"bridge: left the bridge cni0 by port veth1 (pod default/web)", "behind veth1"})

	// Bridged, not routed, to a MAC the bridge has not learned: flooded.
	bridged := Route{Netns: l2Node1, Dst: a("10.244.1.3"), IIF: "veth2", Bridge: "cni0", L2: &L2{Bridge: true, MAC: "0a:58:0a:f4:01:03"}}
	wantHops(t, "bridged, unknown MAC", in.departure(node1, bridged, in.Places[l2Node1]),
		[]string{"bridge: 0a:58:0a:f4:01:03 is not in cni0's FDB: flooded to every port"})

	local := Route{Netns: l2Web, Dst: a("10.244.1.3"), IIF: "eth0", Local: true, L2: &L2{}}
	wantHops(t, "into the pod", in.arrival(Hop{Namespace: l2Web}, local, in.Places[l2Web]),
		[]string{"bridge: arrived on the pod's eth0", "by the veth from node w1, whose end there is veth1"})
	if hops := in.departure(Hop{}, local, in.Places[l2Web]); len(hops) != 0 {
		t.Errorf("delivered locally, yet left: %v", words(hops))
	}
	// Nothing read (the facts are optional): nothing told.
	if hops := in.departure(Hop{}, Route{Dev: "eth0"}, in.Places[l2Web]); len(hops) != 0 {
		t.Errorf("no layer-2 facts, yet hops: %v", words(hops))
	}
}

// TestLayer2Verdict: the missing entry is the journey's end, also when the
// answer was the one lost, and the kernel's reason it already names is
// not told again.
func TestLayer2Verdict(t *testing.T) {
	in := l2Input()
	in.Probe = ProbeResult{Proto: "tcp", Outcome: NoAnswer, Error: "no answer", Dst: netip.MustParseAddrPort("10.244.1.3:8080")}
	in.DSCP, in.Src = 0x2d, l2Client
	req, reqT := header("10.244.2.2", "10.244.1.3", 0x2d, 63, 1, 40000, 8080, 0x02)
	in.Events = []Event{{Netns: l2Node2, Table: "kinn-trace-1", Chain: "prerouting", Type: EventRule, Packet: ParsePacket(req, reqT)}}
	r := overVXLAN()
	r.L2.FDB = nil
	in.Routes = map[string]Route{l2Node2: r}
	in.Drops = []KernelDrop{{Netns: l2Node2, Reason: "NO_TX_TARGET", Symbol: "vxlan_xmit", Dev: "vxlan.1"}}
	j := Explain(in)
	if j.Verdict != Dropped || !strings.Contains(j.Summary, "in w2: no FDB entry for "+vtepMAC1+" on vxlan.1 in node w2") {
		t.Errorf("verdict %q, summary %q: want dropped, naming the missing FDB entry in w2", j.Verdict, j.Summary)
	}
	if n := strings.Count(strings.Join(words(j.Request), "\n"), "NO_TX_TARGET"); n != 1 {
		t.Errorf("the kernel's reason told %d times, want once:\n%s", n, strings.Join(words(j.Request), "\n"))
	}

	// The answer lost on its way back (w1 lacks its entry): the request
	// went through, the reply's missing entry is the end.
	rep, repT := header("10.244.1.3", "10.244.2.2", 0, 63, 2, 8080, 40000, 0x12)
	in.Events = []Event{{Netns: l2Node2, Table: "kinn-trace-1", Chain: "prerouting", Type: EventRule, Packet: ParsePacket(rep, repT)}}
	in.Routes, in.Back, in.Drops = nil, map[string]Route{l2Node2: r}, nil
	j = Explain(in)
	if !strings.Contains(j.Summary, "no FDB entry for "+vtepMAC1) {
		t.Errorf("summary %q does not name the reply's missing FDB entry", j.Summary)
	}
}
