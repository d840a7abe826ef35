package proxy

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"kinn.dev/kinn/lab/service"
)

// Tests named after kube-proxy behaviours (nftables mode) that kinn's
// ruleset reproduces.

var clusterNode = Node{Name: "n1", PodCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.0.0/16")}}

// TestMasqueradeOffClusterTrafficToClusterIP: with the cluster's pod
// network known, the service's cluster chain first marks traffic from
// outside it for masquerade (`ip saddr != 10.244.0.0/16 jump
// mark-for-masquerade`); a node-local (internalTrafficPolicy Local) chain
// keeps the client's address.
func TestMasqueradeOffClusterTrafficToClusterIP(t *testing.T) {
	t.Parallel()
	const svc, comment = "svc-default/web/http/tcp", ` jump mark-for-masquerade comment "off-cluster traffic to the ClusterIP is masqueraded"`
	a, b := ep("a", "10.244.0.2", "n1", true), ep("b", "10.244.1.2", "n2", true)
	twoNets := clusterNode
	twoNets.PodCIDRs = []netip.Prefix{netip.MustParsePrefix("10.244.0.0/16"), netip.MustParsePrefix("10.245.0.7/16"), netip.MustParsePrefix("fd00::/64")}
	tests := []struct {
		name  string
		node  Node
		first string // "" when no rule may mark by source
	}{
		{"cluster chain masquerades off-cluster sources", clusterNode, "counter ip saddr != 10.244.0.0/16" + comment},
		{"every IPv4 pod network excluded, masked", twoNets, "counter ip saddr != 10.244.0.0/16 ip saddr != 10.245.0.0/16" + comment},
		{"no pod network known: nothing to tell apart", Node{Name: "n1"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := rules(Build(tt.node, []service.Port{web(a, b)}), svc)
			if len(got) == 0 {
				t.Fatalf("no chain %s", svc)
			}
			if tt.first != "" && got[0] != tt.first {
				t.Errorf("first rule of %s = %q, want %q", svc, got[0], tt.first)
			}
			if tt.first == "" && slices.ContainsFunc(got, func(r string) bool { return strings.Contains(r, "saddr !=") }) {
				t.Errorf("%s marks by source with no pod network known: %q", svc, got)
			}
		})
	}
	local := web(a, b)
	local.InternalLocal = true
	got := rules(Build(clusterNode, []service.Port{local}), "local-default/web/http/tcp")
	if len(got) == 0 || slices.ContainsFunc(got, func(r string) bool { return strings.Contains(r, "mark-for-masquerade") }) {
		t.Errorf("internalTrafficPolicy Local chain must exist and keep the source: %q", got)
	}
}
