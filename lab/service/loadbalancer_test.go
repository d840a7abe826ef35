package service

import (
	"fmt"
	"maps"
	"net/netip"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"kinn.dev/kinn/topology"
)

var testPool = topology.LoadBalancer{IPMode: topology.IPModeVIP, Pool: []netip.Prefix{
	netip.MustParsePrefix("172.18.255.200/31"), netip.MustParsePrefix("172.18.255.202/32"),
}}

func lb(opts ...func(*corev1.Service)) func(*corev1.Service) {
	return func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeLoadBalancer
		for _, o := range opts {
			o(s)
		}
	}
}

func lbIP(ip string) func(*corev1.Service) {
	return func(s *corev1.Service) { s.Spec.LoadBalancerIP = ip }
}

func lbClass(c string) func(*corev1.Service) {
	return func(s *corev1.Service) { s.Spec.LoadBalancerClass = &c }
}

func addrs(kv ...string) map[string]netip.Addr {
	out := map[string]netip.Addr{}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = netip.MustParseAddr(kv[i+1])
	}
	return out
}

// TestLoadBalancerAllocation: kinn's controller gives LoadBalancer
// Services without a class the lowest free pool address in Service order,
// keeps what a Service had, honours spec.loadBalancerIP, and leaves the
// rest <pending> once the pool is used up, as MetalLB does.
func TestLoadBalancerAllocation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		pool topology.LoadBalancer
		prev map[string]netip.Addr
		svcs []*corev1.Service
		want map[string]netip.Addr
		err  string
	}{
		{name: "lowest first, in Service order; ClusterIP and classed Services get none", pool: testPool,
			svcs: []*corev1.Service{svc("b", "web", lb()), svc("a", "web", lb()), svc("a", "plain"), svc("a", "other", lb(lbClass("example.com/lb")))},
			want: addrs("a/web", "172.18.255.200", "b/web", "172.18.255.201")},
		{name: "kept across runs", pool: testPool, prev: addrs("b/web", "172.18.255.200"),
			svcs: []*corev1.Service{svc("a", "web", lb()), svc("b", "web", lb())},
			want: addrs("a/web", "172.18.255.201", "b/web", "172.18.255.200")},
		{name: "requested address", pool: testPool,
			svcs: []*corev1.Service{svc("a", "web", lb()), svc("b", "web", lb(lbIP("172.18.255.200")))},
			want: addrs("a/web", "172.18.255.201", "b/web", "172.18.255.200")},
		{name: "a request wins over what another Service would get, not over what it has", pool: testPool, prev: addrs("a/web", "172.18.255.200"),
			svcs: []*corev1.Service{svc("a", "web", lb()), svc("b", "web", lb(lbIP("172.18.255.200")))},
			err:  "Service b/web: spec.loadBalancerIP 172.18.255.200 is already Service a/web's"},
		{name: "request outside the pool", pool: testPool,
			svcs: []*corev1.Service{svc("a", "web", lb(lbIP("192.168.1.1")))},
			err:  "spec.loadBalancerIP 192.168.1.1 is outside the load-balancer pool 172.18.255.200-172.18.255.202"},
		{name: "an address no longer in the pool is replaced", pool: testPool, prev: addrs("a/web", "10.1.1.1"),
			svcs: []*corev1.Service{svc("a", "web", lb())}, want: addrs("a/web", "172.18.255.200")},
		{name: "a Service that is no longer a LoadBalancer gives its address back", pool: testPool, prev: addrs("a/web", "172.18.255.200"),
			svcs: []*corev1.Service{svc("a", "web"), svc("b", "web", lb())}, want: addrs("b/web", "172.18.255.200")},
		{name: "pool used up: the rest stay pending", pool: testPool,
			svcs: []*corev1.Service{svc("a", "a", lb()), svc("a", "b", lb()), svc("a", "c", lb()), svc("a", "d", lb())},
			want: addrs("a/a", "172.18.255.200", "a/b", "172.18.255.201", "a/c", "172.18.255.202")},
		{name: "no pool: no controller", svcs: []*corev1.Service{svc("a", "web", lb(lbIP("172.18.255.200")))}, want: addrs()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, errs := allocateLoadBalancerIPs(tt.prev, tt.pool, tt.svcs)
			if tt.err != "" {
				if len(errs) != 1 || !strings.Contains(errs[0].Error(), tt.err) {
					t.Errorf("errors %v, want one containing %q", errs, tt.err)
				}
				return
			}
			if len(errs) > 0 || !maps.Equal(got, tt.want) {
				t.Errorf("got %v %v, want %v", got, errs, tt.want)
			}
		})
	}
}

// TestLoadBalancerStatus: Apply reports the address in
// status.loadBalancer.ingress with the pool's ipMode, and drops any status
// the file brought (the apiserver ignores status on create).
func TestLoadBalancerStatus(t *testing.T) {
	t.Parallel()
	pool := testPool
	pool.IPMode = topology.IPModeProxy
	in := []*corev1.Service{svc("a", "web", lb()), svc("a", "other", lb(lbClass("example.com/lb")))}
	in[1].Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "1.2.3.4"}}
	alloc, err := Allocate(Allocations{}, netip.MustParsePrefix("10.96.0.0/16"), pool, in)
	if err != nil {
		t.Fatal(err)
	}
	out := Apply(in, alloc)
	ing := out[0].Status.LoadBalancer.Ingress
	if len(ing) != 1 || ing[0].IP != "172.18.255.200" || ing[0].IPMode == nil || *ing[0].IPMode != corev1.LoadBalancerIPModeProxy {
		t.Errorf("a/web ingress %+v, want 172.18.255.200 with ipMode Proxy", ing)
	}
	if got := out[1].Status.LoadBalancer.Ingress; len(got) != 0 {
		t.Errorf("a/other (another controller's class) ingress %+v, want none", got)
	}
	table := ServiceTable(out, false, false)
	if got := table.Rows[0][3] + " " + table.Rows[1][3]; got != "172.18.255.200 <pending>" {
		t.Errorf("get svc EXTERNAL-IP cells %q, want the address, then <pending>", got)
	}
}

// TestRoutes: the switch sends a Cluster-policy address to every node, a
// Local one to the nodes with a usable endpoint (every node when none has
// one, so that the proxies refuse); two ports of one address share it.
func TestRoutes(t *testing.T) {
	t.Parallel()
	a := netip.MustParseAddr("172.18.255.200")
	b := netip.MustParseAddr("172.18.255.201")
	eps := []Endpoint{
		{Node: "n2", Ready: true},
		{Node: "n3", Serving: true, Terminating: true},
		{Node: "n1"}, // neither ready nor serving
	}
	nodes := []string{"n1", "n2", "n3"}
	cluster := Port{LoadBalancerIPs: []netip.Addr{a}, Endpoints: eps}
	local := Port{LoadBalancerIPs: []netip.Addr{b}, Endpoints: eps, ExternalLocal: true}
	got := Routes([]Port{local, cluster}, nodes)
	want := []Route{{Addr: a, Nodes: nodes}, {Addr: b, Nodes: []string{"n2", "n3"}}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	local.Endpoints = eps[2:]
	if got := Routes([]Port{local}, nodes); fmt.Sprint(got) != fmt.Sprint([]Route{{Addr: b, Nodes: nodes}}) {
		t.Errorf("Local without any usable endpoint: got %v, want every node", got)
	}
	if got := Routes([]Port{{Endpoints: eps}}, nodes); len(got) != 0 {
		t.Errorf("no load-balancer address: got %v", got)
	}
}
