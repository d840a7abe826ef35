package lab

import (
	"net/netip"
	"reflect"
	"testing"

	"kinn.dev/kinn/lab/plan"
	"kinn.dev/kinn/lab/proxy"
	"kinn.dev/kinn/lab/service"
)

// TestEntryViews: kernel entries in the kernel's order, those on kinn's
// devices that the plan lacks marked EXTRA, others' left alone, then the
// planned entries the kernel lacks marked MISSING; nothing dropped.
func TestEntryViews(t *testing.T) {
	t.Parallel()
	r := func(dst, gw, dev string) plan.Route {
		return plan.Route{Dst: netip.MustParsePrefix(dst), Gw: netip.MustParseAddr(gw), Dev: dev}
	}
	want := []plan.Route{r("0.0.0.0/0", "172.18.0.1", "eth0"), r("10.244.2.0/24", "10.244.2.0", "vxlan.1")}
	have := []plan.Route{r("0.0.0.0/0", "172.18.0.1", "eth0"), r("192.0.2.0/24", "172.18.0.1", "eth0"), r("10.244.1.5/32", "0.0.0.0", "veth1234")}
	kinns := func(dev string) bool { return dev == "eth0" || dev == "vxlan.1" }
	got := entryViews(want, have, kinns, func(r plan.Route) string { return r.Dev },
		func(r plan.Route) EntryView { return EntryView{Entry: r.String()} })
	wantViews := []EntryView{
		{Entry: "0.0.0.0/0 via 172.18.0.1 dev eth0"},
		{Entry: "192.0.2.0/24 via 172.18.0.1 dev eth0", State: DriftExtra},
		{Entry: "10.244.1.5/32 via 0.0.0.0 dev veth1234"},
		{Entry: "10.244.2.0/24 via 10.244.2.0 dev vxlan.1", State: DriftMissing},
	}
	if !reflect.DeepEqual(got, wantViews) {
		t.Errorf("got %+v\nwant %+v", got, wantViews)
	}
}

// webNodePort is a NodePort Service port with two ready endpoints, both
// on node n1.
func webNodePort() service.Port {
	p := service.Port{Namespace: "default", Service: "web", Protocol: service.TCP, ClusterIP: netip.MustParseAddr("10.96.0.10"), Port: 80, NodePort: 30080}
	for i, ip := range []string{"10.244.1.2", "10.244.2.2"} {
		p.Endpoints = append(p.Endpoints, service.Endpoint{Namespace: "default", Pod: []string{"a", "b"}[i], Node: "n1",
			IP: netip.MustParseAddr(ip), Port: 8080, Ready: true, Serving: true})
	}
	return p
}

// TestFrontendDrift: `kinn rules` marks a frontend and an endpoint by what
// the table's drift says of their map elements, chains and choosing rules.
func TestFrontendDrift(t *testing.T) {
	t.Parallel()
	p := webNodePort()
	id := proxy.PortID(p)
	epA, epB := proxy.EndpointChain(id, p.Endpoints[0]), proxy.EndpointChain(id, p.Endpoints[1])
	ruleset := proxy.Build(proxy.Node{Name: "n1"}, []service.Port{p})
	clusterKey := proxy.Key{Addr: p.ClusterIP, Proto: p.Protocol, Port: p.Port}
	for _, c := range []struct {
		name                  string
		d                     proxy.Drift
		cluster, node, ea, eb string // ClusterIP and NodePort frontends, endpoints a and b (on the ClusterIP frontend)
	}{
		{"none", proxy.Drift{}, "", "", "", ""},
		{"dnat rule missing", proxy.Drift{Chains: []proxy.ChainDrift{{Name: epA, State: proxy.Changed, Missing: ruleset.Chain(epA).Rules[1:]}}},
			"", "", DriftMissing, ""},
		{"choosing rule missing", proxy.Drift{Chains: []proxy.ChainDrift{{Name: proxy.ClusterChain(id), State: proxy.Changed, Missing: ruleset.Chain(proxy.ClusterChain(id)).Rules[1:]}}},
			DriftMissing, "", "", DriftMissing},
		{"extra rule in an endpoint's chain", proxy.Drift{Chains: []proxy.ChainDrift{{Name: epB, State: proxy.Changed, Extra: []string{"handle 9: counter drop"}}}},
			"", "", "", DriftExtra},
		{"dispatch element missing", proxy.Drift{Maps: []proxy.MapDrift{{Name: proxy.MapServiceIPs, State: proxy.Changed,
			Missing: []proxy.Elem{{Key: clusterKey, Verdict: proxy.Verdict{Kind: proxy.Goto, Chain: proxy.ClusterChain(id)}}}}}},
			DriftMissing, "", "", ""},
		{"verdict changed", proxy.Drift{Maps: []proxy.MapDrift{{Name: proxy.MapServiceIPs, State: proxy.Changed,
			Missing: []proxy.Elem{{Key: clusterKey, Verdict: proxy.Verdict{Kind: proxy.Goto, Chain: proxy.ClusterChain(id)}}},
			Extra:   []proxy.Elem{{Key: clusterKey, Verdict: proxy.Verdict{Kind: proxy.Drop}}}}}},
			DriftChanged, "", "", ""},
		{"external chain gone", proxy.Drift{Chains: []proxy.ChainDrift{{Name: proxy.ExternalChain(id), State: proxy.Missing}}},
			"", DriftMissing, "", ""},
		{"table gone", proxy.Drift{NoTable: true}, DriftMissing, DriftMissing, DriftMissing, DriftMissing},
	} {
		fs := frontends(p, "n1", nil, &c.d)
		got := []string{fs[0].Drift, fs[1].Drift, fs[0].Endpoints[0].Drift, fs[0].Endpoints[1].Drift}
		if want := []string{c.cluster, c.node, c.ea, c.eb}; !reflect.DeepEqual(got, want) {
			t.Errorf("%s: ClusterIP, NodePort, a, b = %q, want %q", c.name, got, want)
		}
	}
}
