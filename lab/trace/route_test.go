package trace

import (
	"net/netip"
	"strings"
	"testing"
)

func TestRouteHops(t *testing.T) {
	a := netip.MustParseAddr
	in := Input{Net: Net{VTEP: "vxlan.1", Bridge: "cni0", SwitchIP: a("172.18.0.1"), Nodes: []NetNode{
		{Name: "w1", Underlay: a("172.18.0.3"), PodCIDR: netip.MustParsePrefix("10.244.1.0/24")},
		{Name: "w2", Underlay: a("172.18.0.4"), PodCIDR: netip.MustParsePrefix("10.244.2.0/24")},
	}}}
	node, pod, sw := Place{What: "node", Node: "w2"}, Place{What: "pod", Node: "w2", Pod: "default/c"}, Place{What: "switch"}
	for _, c := range []struct {
		r         Route
		pl        Place
		component string
		want      string
	}{
		{Route{Dst: a("10.244.1.3"), Dev: "vxlan.1", Gw: a("10.244.1.0")}, node, CompRoute, "w1's pod CIDR 10.244.1.0/24 through the VXLAN device vxlan.1"},
		{Route{Dst: a("10.244.1.3"), Dev: "eth0", Gw: a("172.18.0.3")}, node, CompRoute, "host-gw: w1's pod CIDR"},
		{Route{Dst: a("10.244.2.3"), Dev: "cni0"}, node, CompRoute, "a pod of this node, through the pod bridge cni0"},
		{Route{Dst: a("10.96.0.10"), Dev: "eth0", Gw: a("172.18.0.1")}, node, CompRoute, "the default route to the switch"},
		{Route{Dst: a("10.96.0.10"), Dev: "eth0", Gw: a("10.244.2.1")}, pod, CompRoute, "the pod's default route"},
		{Route{Dst: a("10.244.2.3"), Local: true}, pod, CompRoute, "this namespace's own address"},
		{Route{Dst: a("10.244.2.3"), IIF: "br0", Bridge: "br0"}, sw, CompBridge, "bridged by br0"},
		{Route{Dst: a("10.20.2.2"), Err: "no route to host"}, sw, CompDrop, "no route to 10.20.2.2"},
	} {
		h := in.routeHop(Hop{}, c.r, c.pl)
		if h.Component != c.component || !strings.Contains(h.Action+" "+h.Detail, c.want) {
			t.Errorf("route %+v in a %s: %s %q / %q, want %s with %q", c.r, c.pl.What, h.Component, h.Action, h.Detail, c.component, c.want)
		}
	}
}
