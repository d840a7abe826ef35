package check

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"kinn.dev/kinn/lab/plan"
	"kinn.dev/kinn/lab/service"
)

func TestExpectations(t *testing.T) {
	t.Parallel()
	ep := func(node string, ready, term bool) service.Endpoint {
		return service.Endpoint{Node: node, Ready: ready, Serving: ready || term, Terminating: term}
	}
	a := Host{Name: "default/a", Node: "n1"}
	ext := Host{Name: "external"}
	tests := []struct {
		name    string
		port    service.Port
		cluster Expect // from a pod on n1
		fromExt Expect // NodePort on n2 from outside
	}{
		{"ready endpoints", service.Port{Endpoints: []service.Endpoint{ep("n2", true, false)}}, Pass, Pass},
		{"no endpoints are refused", service.Port{}, Refuse, Refuse},
		{"only unready endpoints are refused", service.Port{Endpoints: []service.Endpoint{ep("n1", false, false)}}, Refuse, Refuse},
		{"serving terminating endpoints are a fallback", service.Port{Endpoints: []service.Endpoint{ep("n1", false, true)}}, Pass, Pass},
		{"internal Local without a local endpoint drops", service.Port{InternalLocal: true, Endpoints: []service.Endpoint{ep("n2", true, false)}}, Drop, Pass},
		{"external Local without an endpoint on the node drops", service.Port{ExternalLocal: true, Endpoints: []service.Endpoint{ep("n1", true, false)}}, Pass, Drop},
		{"external Local with one answers", service.Port{ExternalLocal: true, Endpoints: []service.Endpoint{ep("n2", true, false)}}, Pass, Pass},
	}
	for _, tt := range tests {
		if got := expectCluster(tt.port, a.Node); got != tt.cluster {
			t.Errorf("%s: ClusterIP from n1 expects %s, want %s", tt.name, got, tt.cluster)
		}
		if got := expectNodePort(tt.port, ext, "n2"); got != tt.fromExt {
			t.Errorf("%s: NodePort on n2 from outside expects %s, want %s", tt.name, got, tt.fromExt)
		}
	}
	// A node's own traffic to its NodePort uses every endpoint.
	local := service.Port{ExternalLocal: true, Endpoints: []service.Endpoint{ep("n1", true, false)}}
	if got := expectNodePort(local, Host{Name: "node/n2", Node: "n2"}, "n2"); got != Pass {
		t.Errorf("node-local NodePort traffic expects %s, want pass", got)
	}
}

func TestPlanCells(t *testing.T) {
	t.Parallel()
	ip := netip.MustParseAddr
	l := Lab{
		Pods: []Host{{Name: "default/a", Node: "n1", IP: ip("10.244.1.2")}, {Name: "default/b", Node: "n2", IP: ip("10.244.2.2")}},
		Nodes: []Host{{Name: "node/n1", Node: "n1", IP: ip("172.18.0.2"), NodePortIP: ip("172.18.0.2")},
			{Name: "node/n2", Node: "n2", IP: ip("172.18.0.3"), NodePortIP: ip("172.18.0.3")}},
		External: Host{Name: "external", IP: ip("172.18.0.1")},
		Ports: []service.Port{{Namespace: "default", Service: "web", Protocol: service.TCP, ClusterIP: ip("10.96.0.5"), Port: 80, NodePort: 30080,
			Endpoints: []service.Endpoint{{Node: "n1", Ready: true, Serving: true}}}},
	}
	cells := Plan(l)
	// 2 pings, 2 pods to the ClusterIP, (2 nodes + external) x 2 node ports.
	if len(cells) != 2+2+6 {
		t.Fatalf("%d cells, want 10: %+v", len(cells), cells)
	}
	if cells[2].Addr != "10.96.0.5:80" || cells[4].Addr != "172.18.0.2:30080" {
		t.Errorf("addresses: %s %s", cells[2].Addr, cells[4].Addr)
	}
}

// TestNodePortCellsOnNodePortIP: NodePorts are probed on the address the
// node's proxy serves them on (the primary one by default), and not at all
// on a node whose nodePortAddresses match none of its addresses.
func TestNodePortCellsOnNodePortIP(t *testing.T) {
	t.Parallel()
	ip := netip.MustParseAddr
	p := &plan.Lab{Nodes: []plan.Node{
		{Name: "n1", Underlay: netip.MustParsePrefix("172.18.0.2/16"), Gateway: netip.MustParsePrefix("10.244.1.1/24")},
		{Name: "n2", Underlay: netip.MustParsePrefix("172.18.0.3/16"), Gateway: netip.MustParsePrefix("10.244.2.1/24")},
	}}
	ports := []service.Port{{Namespace: "default", Service: "web", Protocol: service.TCP, ClusterIP: ip("10.96.0.5"), Port: 80, NodePort: 30080,
		Endpoints: []service.Endpoint{{Node: "n1", Ready: true, Serving: true}}}}
	// n1 serves NodePorts on its gateway only (nodePortAddresses: the pod
	// network), n2 on none.
	served := func(n plan.Node) []netip.Addr {
		if n.Name == "n1" {
			return []netip.Addr{n.Gateway.Addr()}
		}
		return nil
	}
	var addrs []string
	for _, c := range Plan(FromPlan(Input{Plan: p, Ports: ports, DNS: ip("10.96.0.10"), Domain: "cluster.local", NodePortIPs: served,
		Live: func(string) bool { return true }})) {
		if strings.Contains(c.To, "nodePort") {
			addrs = append(addrs, c.Addr)
		}
	}
	if want := []string{"10.244.1.1:30080", "10.244.1.1:30080"}; !slices.Equal(addrs, want) {
		t.Errorf("NodePort cells probe %q, want %q (n1's served address from both nodes, not from outside, which has no route to it; none on n2)", addrs, want)
	}
}

// TestLoadBalancerCells: the outside probes every load-balancer address;
// it must pass, be refused without endpoints, and be dropped when
// loadBalancerSourceRanges leave the outside out.
func TestLoadBalancerCells(t *testing.T) {
	t.Parallel()
	ip := netip.MustParseAddr
	ext := Host{Name: "external", IP: ip("172.18.0.1")}
	lbPort := func(ranges []string, eps ...service.Endpoint) service.Port {
		p := service.Port{Namespace: "default", Service: "lb", Protocol: service.TCP, ClusterIP: ip("10.96.0.5"), Port: 80,
			LoadBalancerIPs: []netip.Addr{ip("172.18.255.200")}, Endpoints: eps, ExternalLocal: true}
		for _, r := range ranges {
			p.SourceRanges = append(p.SourceRanges, netip.MustParsePrefix(r))
		}
		return p
	}
	ready := service.Endpoint{Node: "n2", Ready: true, Serving: true}
	tests := []struct {
		name string
		port service.Port
		want Expect
	}{
		{"answers (Local: the switch routes to n2)", lbPort(nil, ready), Pass},
		{"no endpoints", lbPort(nil), Refuse},
		{"outside the source ranges", lbPort([]string{"203.0.113.0/24"}, ready), Drop},
		{"inside them", lbPort([]string{"203.0.113.0/24", "172.18.0.0/16"}, ready), Pass},
	}
	for _, tt := range tests {
		cells := Plan(Lab{External: ext, Ports: []service.Port{tt.port}})
		if len(cells) != 1 || cells[0].From != "external" || cells[0].Addr != "172.18.255.200:80" || cells[0].Expect != tt.want {
			t.Errorf("%s: %+v, want one cell external -> 172.18.255.200:80 expecting %s", tt.name, cells, tt.want)
		}
	}
}

// TestPodsNotRunning: a pod that should run and does not is a failed cell
// of its own, counted and named; a Service whose only endpoint is that pod
// must answer (its refusal is no expected failure) and says why it fails;
// a Service selecting nothing is still an expected refusal.
func TestPodsNotRunning(t *testing.T) {
	t.Parallel()
	ip := netip.MustParseAddr
	svc := func(name string, eps ...service.Endpoint) service.Port {
		return service.Port{Namespace: "default", Service: name, Protocol: service.TCP, ClusterIP: ip("10.96.0.5"), Port: 80, Endpoints: eps}
	}
	l := Lab{
		Pods: []Host{{Name: "default/a", Node: "n1", IP: ip("10.244.1.2")}},
		Down: []Down{{Name: "default/doomed", Node: "n2", Why: "CNI ADD: refused"}},
		Ports: []service.Port{
			svc("doomed", service.Endpoint{Namespace: "default", Pod: "doomed", Node: "n2", Ready: true, Serving: true}),
			svc("nobody"),
		},
	}
	cells := Plan(l)
	if len(cells) != 3 {
		t.Fatalf("%d cells, want the pod's own and one per Service: %+v", len(cells), cells)
	}
	if c := cells[0]; c.From != "default/doomed" || c.Passed || c.Detail != "CNI ADD: refused" {
		t.Errorf("the pod's own cell: %+v", c)
	}
	if c := cells[1]; c.Expect != Pass || c.note != "endpoints not running: default/doomed" {
		t.Errorf("the Service of the failed pod: %+v, want it expected to answer, naming the pod", c)
	}
	if c := cells[2]; c.Expect != Refuse || c.note != "" {
		t.Errorf("the Service selecting nothing: %+v, want an expected refusal", c)
	}
	cells[2].Passed = true
	if s := Summarize(cells); s.Failed != 2 || s.NotRunning != 1 || !strings.Contains(s.String(), "pods not running: 1") {
		t.Errorf("summary %+v %q", s, s)
	}
}
