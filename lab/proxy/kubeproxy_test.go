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
	// internalTrafficPolicy Local: the same, as kube-proxy, matching the
	// ClusterIP, since the local chain also carries externalTrafficPolicy
	// Local traffic, which keeps its source.
	local := web(a, b)
	local.InternalLocal = true
	got := rules(Build(clusterNode, []service.Port{local}), "local-default/web/http/tcp")
	if want := "counter ip daddr 10.96.0.10/32 ip saddr != 10.244.0.0/16" + comment; len(got) == 0 || got[0] != want {
		t.Errorf("internalTrafficPolicy Local chain: %q, want first %q", got, want)
	}
	ext := web(a, b)
	ext.NodePort, ext.ExternalLocal = 30080, true
	got = rules(Build(clusterNode, []service.Port{ext}), "local-default/web/http/tcp")
	if len(got) == 0 || slices.ContainsFunc(got, func(r string) bool { return strings.Contains(r, "mark-for-masquerade") }) {
		t.Errorf("externalTrafficPolicy Local chain must exist and keep the source: %q", got)
	}
}

// TestClusterIPsCheck: every ClusterIP, with or without endpoints, is in
// the cluster-ips set; new connections still addressed to one after DNAT
// (a port or protocol the Service does not have) are rejected, and those to
// an unallocated address of the service network dropped, from forward and
// output (kube-proxy's cluster-ips-check chain).
func TestClusterIPsCheck(t *testing.T) {
	t.Parallel()
	node := clusterNode
	node.ServiceCIDRs = []netip.Prefix{netip.MustParsePrefix("10.96.0.0/16"), netip.MustParsePrefix("fd00:96::/108")}
	a := ep("a", "10.244.0.2", "n1", true)
	https := web(a)
	https.Port, https.Name = 443, "https"
	empty := web()
	empty.Service, empty.ClusterIP = "empty", netip.MustParseAddr("10.96.0.11")
	headless := web(a)
	headless.Service, headless.ClusterIP = "headless", netip.Addr{}
	rs := Build(node, []service.Port{web(a), https, empty, headless})

	var ips []string
	for _, e := range rs.Map(SetClusterIPs).Elems {
		ips = append(ips, e.Key.String(KeyAddr))
	}
	if want := []string{"10.96.0.10", "10.96.0.11"}; !slices.Equal(ips, want) {
		t.Errorf("cluster-ips = %q, want %q (one element per ClusterIP, none for headless)", ips, want)
	}
	want := []string{
		`counter ip daddr @cluster-ips jump reject comment "reject traffic to invalid ports of ClusterIPs"`,
		`ip daddr 10.96.0.0/16 drop comment "drop traffic to unallocated ClusterIPs"`,
	}
	if got := rules(rs, ChainClusterIPsCheck); !slices.Equal(got, want) {
		t.Errorf("%s:\n%q\nwant\n%q", ChainClusterIPsCheck, got, want)
	}
	for _, c := range []string{"filter-forward", "filter-output"} {
		got := rules(rs, c)
		if len(got) == 0 || got[len(got)-1] != "ct state new jump "+ChainClusterIPsCheck {
			t.Errorf("%s must end with the cluster-ips check after the endpoints check: %q", c, got)
		}
	}
	if got := rules(rs, "filter-input"); slices.ContainsFunc(got, func(r string) bool { return strings.Contains(r, ChainClusterIPsCheck) }) {
		t.Errorf("filter-input checks ClusterIPs (never a local address): %q", got)
	}
	if got := rules(Build(clusterNode, nil), ChainClusterIPsCheck); len(got) != 1 {
		t.Errorf("no service network known: only the reject rule, got %q", got)
	}
}

// TestNoCtStateInvalidDrop: no chain drops conntrack-invalid packets;
// kube-proxy removed `ct state invalid drop` (kubernetes PR #122663).
func TestNoCtStateInvalidDrop(t *testing.T) {
	t.Parallel()
	rs := Build(clusterNode, []service.Port{web(ep("a", "10.244.0.2", "n1", true))})
	for _, c := range rs.Chains {
		for _, r := range c.Rules {
			if slices.Contains(r.Exprs, Expr(CtState{"invalid"})) {
				t.Errorf("chain %s: %s", c.Name, r)
			}
		}
	}
}

// TestNodePortAddresses: NodePorts are dispatched only for destinations in
// the nodeport-ips set, which holds the node's primary address by default
// (kube-proxy's nodePortAddresses "primary") or its addresses within the
// configured networks, never a loopback address nor, by default, the pod
// bridge's gateway.
func TestNodePortAddresses(t *testing.T) {
	t.Parallel()
	underlay, gateway := netip.MustParseAddr("172.18.0.2"), netip.MustParseAddr("10.244.0.1")
	loop := netip.MustParseAddr("127.0.0.1")
	prefixes := func(ps ...string) []netip.Prefix {
		var out []netip.Prefix
		for _, p := range ps {
			out = append(out, netip.MustParsePrefix(p))
		}
		return out
	}
	for _, tc := range []struct {
		name string
		nets []netip.Prefix
		want []string
	}{
		{"primary by default", nil, []string{"172.18.0.2"}},
		{"the pod network only", prefixes("10.244.0.0/16"), []string{"10.244.0.1"}},
		{"both networks", prefixes("10.0.0.0/8", "172.16.0.0/12"), []string{"10.244.0.1", "172.18.0.2"}},
		{"every address but loopback", prefixes("0.0.0.0/0"), []string{"10.244.0.1", "172.18.0.2"}},
		{"no address matches", prefixes("192.168.0.0/16"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			node := clusterNode
			node.IPs, node.NodePortAddresses = []netip.Addr{underlay, gateway, loop}, tc.nets
			np := web(ep("a", "10.244.0.2", "n1", true))
			np.NodePort = 30080
			rs := Build(node, []service.Port{np})
			var got []string
			for _, e := range rs.Map(SetNodePortIPs).Elems {
				got = append(got, e.Key.String(KeyAddr))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("nodeport-ips = %q, want %q", got, tc.want)
			}
			for chain, m := range map[string]string{ChainServices: MapServiceNodePorts, ChainEndpointsCheck: MapNoEndpointNodePort} {
				want := "ip daddr @nodeport-ips meta l4proto . th dport vmap @" + m
				if got := rules(rs, chain); !slices.ContainsFunc(got, func(r string) bool { return strings.HasSuffix(r, want) }) {
					t.Errorf("%s: no %q in %q", chain, want, got)
				}
			}
			if s := rs.String(); strings.Contains(s, "fib daddr type local") {
				t.Errorf("NodePorts still dispatched on every local address:\n%s", s)
			}
		})
	}
	a, b := clusterNode, clusterNode
	b.NodePortAddresses = prefixes("10.0.0.0/8")
	if a.Equal(b) {
		t.Error("nodes with different nodePortAddresses are Equal: Changes would keep the old set")
	}
}

// TestRejectChainIsPlainReject: kube-proxy's reject-chain holds one plain
// `reject` (ICMP port unreachable for every protocol); kinn once sent TCP
// resets instead. A TCP client sees "connection refused" either way.
func TestRejectChainIsPlainReject(t *testing.T) {
	rs := Build(node, nil)
	if got := rules(rs, ChainReject); !slices.Equal(got, []string{"counter reject"}) {
		t.Errorf("reject chain: %q, want one plain reject as kube-proxy's", got)
	}
}

// lbWeb is web as a LoadBalancer with address 172.18.255.200 and node port
// 30080.
func lbWeb(eps ...service.Endpoint) service.Port {
	p := web(eps...)
	p.NodePort = 30080
	p.LoadBalancerIPs = []netip.Addr{netip.MustParseAddr("172.18.255.200")}
	return p
}

// TestLoadBalancerIPs: a LoadBalancer IP is dispatched like an external
// IP (to the external chain); without endpoints it is rejected, and with
// externalTrafficPolicy Local and no endpoint on this node dropped, as in
// kube-proxy's TestOverallNFTablesRules (svc2, svc5) and
// TestNoEndpointsReject.
func TestLoadBalancerIPs(t *testing.T) {
	t.Parallel()
	const key = "172.18.255.200 . tcp . 80"
	ext := "goto ext-default/web/http/tcp"
	rs := Build(clusterNode, []service.Port{lbWeb(ep("a", "10.244.1.2", "n2", true))})
	if got := elem(rs, MapServiceIPs, key); got != ext {
		t.Errorf("service-ips[%s] = %q, want %q", key, got, ext)
	}
	rs = Build(clusterNode, []service.Port{lbWeb()})
	if got := elem(rs, MapNoEndpointServices, key); got != "goto reject" {
		t.Errorf("no endpoints: no-endpoint-services[%s] = %q, want goto reject", key, got)
	}
	local := lbWeb(ep("a", "10.244.1.2", "n2", true))
	local.ExternalLocal = true
	rs = Build(clusterNode, []service.Port{local})
	if got, gotExt := elem(rs, MapNoEndpointServices, key), elem(rs, MapServiceIPs, key); got != "drop" || gotExt != ext {
		t.Errorf("Local, no local endpoint: no-endpoint-services %q, service-ips %q; want drop (what the external chain does not short-circuit) and %q", got, gotExt, ext)
	}
}

// TestLoadBalancerSourceRanges: kube-proxy's firewall (TestOverallNFTablesRules'
// svc5, TestLoadBalancer): new connections to a LoadBalancer IP are checked
// before DNAT against loadBalancerSourceRanges; the LoadBalancer IPs are
// allowed as sources when a range holds the node's own address; no ranges,
// no firewall.
func TestLoadBalancerSourceRanges(t *testing.T) {
	t.Parallel()
	n := clusterNode
	n.IPs = []netip.Addr{netip.MustParseAddr("192.168.0.2")}
	p := lbWeb(ep("a", "10.244.1.2", "n2", true))
	p.SourceRanges = []netip.Prefix{netip.MustParsePrefix("203.0.113.0/25")}
	rs := Build(n, []service.Port{p})
	const fw = "firewall-default/web/http/tcp"
	want := []string{`counter ip saddr != 203.0.113.0/25 drop comment "source outside loadBalancerSourceRanges"`}
	if got := rules(rs, fw); !slices.Equal(got, want) {
		t.Errorf("%s:\n%q\nwant\n%q", fw, got, want)
	}
	if got := elem(rs, MapFirewallIPs, "172.18.255.200 . tcp . 80"); got != "goto "+fw {
		t.Errorf("firewall-ips = %q, want goto %s", got, fw)
	}
	for _, c := range []string{"filter-prerouting-pre-dnat", "filter-output-pre-dnat"} {
		ch := rs.Chain(c)
		if ch == nil || ch.Hook == nil || ch.Hook.Priority != -110 || ch.Hook.Type != "filter" || !slices.Equal(rules(rs, c), []string{"counter ct state new jump firewall-check"}) {
			t.Errorf("%s: %+v %q; want a filter hook at -110 checking new connections", c, ch, rules(rs, c))
		}
	}

	p.SourceRanges = append(p.SourceRanges, netip.MustParsePrefix("192.168.0.0/24"))
	want = []string{`counter ip saddr != 203.0.113.0/25 ip saddr != 192.168.0.0/24 ip saddr != 172.18.255.200/32 drop comment "source outside loadBalancerSourceRanges"`}
	if got := rules(Build(n, []service.Port{p}), fw); !slices.Equal(got, want) {
		t.Errorf("a range holds the node's address:\n%q\nwant\n%q", got, want)
	}
	p.SourceRanges = nil
	if rs := Build(n, []service.Port{p}); rs.Chain(fw) != nil || len(rs.Map(MapFirewallIPs).Elems) != 0 {
		t.Errorf("no source ranges: want no firewall chain or element")
	}
}
