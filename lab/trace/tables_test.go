package trace

import (
	"net/netip"
	"strings"
	"testing"
)

// TestChainRoutes: in a lab a CNI chain attached, its own devices are
// named as the chain's, by their kind; the overlay stays kinn's.
func TestChainRoutes(t *testing.T) {
	a := netip.MustParseAddr
	in := Input{Net: Net{VTEP: "vxlan.1", Chain: true, SwitchIP: a("172.18.0.1"), Nodes: []NetNode{
		{Name: "w1", Underlay: a("172.18.0.3"), PodCIDR: netip.MustParsePrefix("10.244.1.0/24")},
		{Name: "w2", Underlay: a("172.18.0.4"), PodCIDR: netip.MustParsePrefix("10.244.2.0/24")},
	}}}
	node, pod := Place{What: "node", Node: "w2"}, Place{What: "pod", Node: "w2", Pod: "default/c"}
	for _, c := range []struct {
		r    Route
		pl   Place
		want string
	}{
		{Route{Dst: a("10.244.2.3"), Dev: "chainbr0", DevKind: "bridge"}, node, "a pod of this node, through chainbr0, the CNI chain's bridge"},
		{Route{Dst: a("10.244.2.3"), Dev: "veth1a2b3c4d", DevKind: "veth"}, node, "a pod of this node, on the CNI chain's veth veth1a2b3c4d"},
		{Route{Dst: a("10.96.0.10"), Dev: "eth0", Gw: a("10.244.2.1")}, pod, "the pod's route from the CNI chain, to the gateway 10.244.2.1"},
		{Route{Dst: a("10.244.1.3"), Dev: "vxlan.1", Gw: a("10.244.1.0"), DevKind: "vxlan"}, node, "w1's pod CIDR 10.244.1.0/24 through the VXLAN device vxlan.1"},
	} {
		if h := in.routeHop(Hop{}, c.r, c.pl); !strings.HasPrefix(h.Detail, c.want) {
			t.Errorf("route %+v in a %s: %q, want %q", c.r, c.pl.What, h.Detail, c.want)
		}
	}
}

// TestOtherTableRule: a rule of another table is told by its text, its
// translation and, when its comment names a pod's sandbox (portmap's
// nftables comment is the ID, its iptables one `name: ... id: "ID"`), the
// Pod; a comment naming none gives no owner.
func TestOtherTableRule(t *testing.T) {
	key := TableRuleKey{"cni_hostport", "hostports", 11}
	for _, c := range []struct {
		comment string
		owner   *Owner
	}{
		{"kinn-0123abcd", &Owner{Kind: "Pod", Namespace: "default", Name: "hostport"}},
		{`dnat name: "bridge-net" id: "kinn-0123abcd"`, &Owner{Kind: "Pod", Namespace: "default", Name: "hostport"}},
		{"someone else's", nil},
	} {
		in := Input{
			Others:    map[string]map[TableRuleKey]TableRule{"n": {key: {Family: "ip", Text: "tcp dport 8081 dnat to 10.244.1.4:8080", NAT: "dnat to 10.244.1.4:8080", Comment: c.comment}}},
			Sandboxes: map[string]string{"kinn-0123abcd": "default/hostport", "kinn-ffff": "default/other"},
		}
		h, ok := in.ruleHop(Hop{Namespace: "n"}, Event{Netns: "n", Table: key.Table, Chain: key.Chain, Handle: key.Handle, Type: EventRule, Verdict: VerdictAccept}, "")
		if !ok || h.Component != CompNftables || h.Action != "DNAT to 10.244.1.4:8080" || h.Rule != "tcp dport 8081 dnat to 10.244.1.4:8080" ||
			(h.Owner == nil) != (c.owner == nil) || (c.owner != nil && *h.Owner != *c.owner) {
			t.Errorf("comment %q: %+v (owner %v), want DNAT with its rule and owner %v", c.comment, h, h.Owner, c.owner)
		}
	}
}
