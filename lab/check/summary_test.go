package check

import (
	"net/netip"
	"slices"
	"testing"

	"kinn.dev/kinn/lab/service"
)

// TestSummaryByNodesAndKind: every cell is placed by the nodes its traffic
// crosses and by its kind, and a broken node pair stands out as the pair
// whose cells fail, whatever their kind.
func TestSummaryByNodesAndKind(t *testing.T) {
	t.Parallel()
	ip := netip.MustParseAddr
	l := Lab{
		Pods: []Host{{Name: "default/a", Node: "n1", IP: ip("10.244.1.2")}, {Name: "default/b", Node: "n2", IP: ip("10.244.2.2")}},
		Down: []Down{{Name: "default/doomed", Node: "n2", Why: "CNI ADD: refused"}},
		Nodes: []Host{{Name: "node/n1", Node: "n1", IP: ip("172.18.0.2"), NodePortIP: ip("172.18.0.2")},
			{Name: "node/n2", Node: "n2", IP: ip("172.18.0.3"), NodePortIP: ip("172.18.0.3")}},
		External: Host{Name: "external", IP: ip("172.18.0.1")},
		DNS:      ip("10.96.0.10"),
		Domain:   "cluster.local",
		Ports: []service.Port{
			{Namespace: "default", Service: "web", Protocol: service.TCP, ClusterIP: ip("10.96.0.5"), Port: 80, NodePort: 30080,
				LoadBalancerIPs: []netip.Addr{ip("172.18.255.200")},
				Endpoints:       []service.Endpoint{{Node: "n2", Ready: true, Serving: true}, {Node: "n1", Ready: true, Serving: true}}},
			{Namespace: "default", Service: "nobody", Protocol: service.UDP, ClusterIP: ip("10.96.0.6"), Port: 53},
		},
	}
	cells := Plan(l)
	// The route from n1 to n2 is broken: what n1 sends to n2 fails; the
	// refusals of the Service without endpoints pass as expected.
	for i := range cells {
		c := &cells[i]
		c.Passed = c.Proto != ProtoSandbox && !(c.FromNode == "n1" && c.ToNode == "n2")
	}
	s := Summarize(cells)
	pair := func(from, to string) Tally {
		i := slices.IndexFunc(s.ByNodes, func(p PairTally) bool { return p.From == from && p.To == to })
		if i < 0 {
			t.Errorf("no pair %s -> %s in %+v", from, to, s.ByNodes)
			return Tally{}
		}
		return s.ByNodes[i].Tally
	}
	tests := []struct {
		from, to string
		want     Tally
	}{
		{"n1", "n2", Tally{Failed: 2}},                             // a ping, the NodePort on n2 from node/n1
		{"n2", "n2", Tally{Failed: 1, Passed: 1}},                  // the pod not running; node/n2 to its own NodePort
		{"n1", "n1,n2", Tally{Passed: 2}},                          // web by ClusterIP and by name
		{"n1", NoEndpoints, Tally{Passed: 2, ExpectedFailures: 2}}, // nobody: refused, by ClusterIP and by name
		{"external", "n1,n2", Tally{Passed: 1}},                    // the load balancer
		{"external", "n2", Tally{Passed: 1}},                       // the NodePort on n2
	}
	for _, tt := range tests {
		if got := pair(tt.from, tt.to); got != tt.want {
			t.Errorf("%s -> %s: %+v, want %+v", tt.from, tt.to, got, tt.want)
		}
	}
	var kinds []Kind
	for _, k := range s.ByKind {
		kinds = append(kinds, k.Kind)
	}
	if want := []Kind{KindSandbox, KindICMP, "TCP ClusterIP", "UDP ClusterIP", KindNodePort, KindLoadBalancer, KindDNS}; !slices.Equal(kinds, want) {
		t.Errorf("kinds %q, want %q", kinds, want)
	}
	if k := s.ByKind[1]; k.Tally != (Tally{Passed: 1, Failed: 1}) {
		t.Errorf("ICMP: %+v, want the ping n1 -> n2 failed and n2 -> n1 passed", k)
	}
	if got, want := s.ByKind[3].String(), "2 ok (2 expected failures), 0 failed"; got != want {
		t.Errorf("UDP ClusterIP reads %q, want %q", got, want)
	}
	var sum Tally
	for _, p := range s.ByNodes {
		sum.Passed, sum.Failed, sum.ExpectedFailures = sum.Passed+p.Passed, sum.Failed+p.Failed, sum.ExpectedFailures+p.ExpectedFailures
	}
	if sum != (Tally{s.Passed, s.Failed, s.ExpectedFailures}) || s.Total != len(cells) {
		t.Errorf("the pairs count %+v, the summary %+v", sum, s)
	}
}
