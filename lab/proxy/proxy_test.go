package proxy

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"kinn.dev/kinn/lab/service"
)

var node = Node{Name: "n1"}

func ep(pod, ip, nodeName string, ready bool) service.Endpoint {
	return service.Endpoint{Namespace: "default", Pod: pod, Node: nodeName, IP: netip.MustParseAddr(ip), Port: 8080, Ready: ready, Serving: ready}
}

func web(eps ...service.Endpoint) service.Port {
	return service.Port{Namespace: "default", Service: "web", Name: "http", Protocol: service.TCP,
		ClusterIP: netip.MustParseAddr("10.96.0.10"), Port: 80, Endpoints: eps}
}

func elem(rs *Ruleset, m, key string) string {
	for _, e := range rs.Map(m).Elems {
		if e.Key.String(rs.Map(m).Key) == key {
			return e.Verdict.String()
		}
	}
	return ""
}

func rules(rs *Ruleset, chain string) []string {
	c := rs.Chain(chain)
	if c == nil {
		return nil
	}
	var out []string
	for _, r := range c.Rules {
		out = append(out, r.String())
	}
	return out
}

func TestBuild(t *testing.T) {
	a := ep("a", "10.244.0.2", "n1", true)
	b := ep("b", "10.244.1.2", "n2", true)
	term := ep("t", "10.244.0.3", "n1", false)
	term.Serving, term.Terminating = true, true
	const svc, ext = "svc-default/web/http/tcp", "ext-default/web/http/tcp"
	tests := []struct {
		name  string
		port  service.Port
		check func(t *testing.T, rs *Ruleset)
	}{
		{"cluster ip dispatches to the service chain", web(a, b), func(t *testing.T, rs *Ruleset) {
			if v := elem(rs, MapServiceIPs, "10.96.0.10 . tcp . 80"); v != "goto "+svc {
				t.Errorf("service-ips: %q", v)
			}
			want := []string{"counter numgen random mod 2 == 0 goto ep-default/web/http/tcp/a-8080", "goto ep-default/web/http/tcp/b-8080"}
			if got := rules(rs, svc); !slices.Equal(got, want) {
				t.Errorf("svc chain:\n%q\nwant\n%q", got, want)
			}
			want = []string{`counter ip saddr 10.244.0.2 jump mark-for-masquerade comment "hairpin: a pod reaching itself"`, "meta l4proto tcp dnat to 10.244.0.2:8080"}
			if got := rules(rs, "ep-default/web/http/tcp/a-8080"); !slices.Equal(got, want) {
				t.Errorf("ep chain: %q", got)
			}
		}},
		{"no endpoints: reject, no nat chains", web(ep("x", "10.244.0.9", "n1", false)), func(t *testing.T, rs *Ruleset) {
			if v := elem(rs, MapNoEndpointServices, "10.96.0.10 . tcp . 80"); v != "goto reject" {
				t.Errorf("no-endpoint-services: %q", v)
			}
			if rs.Chain(svc) != nil || len(rs.Map(MapServiceIPs).Elems) != 0 {
				t.Error("nat chain or dispatch for a service without endpoints")
			}
		}},
		{"terminating used only when nothing is ready", web(term, ep("u", "10.244.0.4", "n1", false)), func(t *testing.T, rs *Ruleset) {
			if got := rules(rs, svc); len(got) != 1 || !strings.Contains(got[0], "ep-default/web/http/tcp/t-8080") {
				t.Errorf("svc chain: %q", got)
			}
		}},
		{"terminating ignored when one is ready", web(term, b), func(t *testing.T, rs *Ruleset) {
			if rs.Chain("ep-default/web/http/tcp/t-8080") != nil {
				t.Error("terminating endpoint used although b is ready")
			}
		}},
		{"internal local without local endpoint drops", func() service.Port { p := web(b); p.InternalLocal = true; return p }(), func(t *testing.T, rs *Ruleset) {
			if v := elem(rs, MapNoEndpointServices, "10.96.0.10 . tcp . 80"); v != "drop" {
				t.Errorf("no-endpoint-services: %q", v)
			}
		}},
		{"internal local uses the local chain", func() service.Port { p := web(a, b); p.InternalLocal = true; return p }(), func(t *testing.T, rs *Ruleset) {
			if v := elem(rs, MapServiceIPs, "10.96.0.10 . tcp . 80"); v != "goto local-default/web/http/tcp" {
				t.Errorf("service-ips: %q", v)
			}
			if got := rules(rs, "local-default/web/http/tcp"); len(got) != 1 || !strings.Contains(got[0], "/a-8080") {
				t.Errorf("local chain: %q", got)
			}
		}},
		{"nodeport cluster policy masquerades", func() service.Port { p := web(a, b); p.NodePort = 30080; return p }(), func(t *testing.T, rs *Ruleset) {
			if v := elem(rs, MapServiceNodePorts, "tcp . 30080"); v != "goto "+ext {
				t.Errorf("nodeports: %q", v)
			}
			if got := rules(rs, ext); len(got) != 2 || !strings.Contains(got[0], "jump mark-for-masquerade") {
				t.Errorf("ext chain: %q", got)
			}
		}},
		{"external local keeps source, short-circuits pods", func() service.Port {
			p := web(a, b)
			p.NodePort, p.ExternalLocal, p.ExternalIPs = 30080, true, []netip.Addr{netip.MustParseAddr("192.0.2.1")}
			return p
		}(), func(t *testing.T, rs *Ruleset) {
			got := rules(rs, ext)
			if len(got) != 4 || !strings.Contains(got[0], `iifname "cni0" goto `+svc) || got[3] != "goto local-default/web/http/tcp" {
				t.Errorf("ext chain: %q", got)
			}
			if v := elem(rs, MapServiceIPs, "192.0.2.1 . tcp . 80"); v != "goto "+ext {
				t.Errorf("external ip: %q", v)
			}
		}},
		{"external local without local endpoint drops outside traffic", func() service.Port { p := web(b); p.NodePort, p.ExternalLocal = 30080, true; return p }(), func(t *testing.T, rs *Ruleset) {
			if v := elem(rs, MapNoEndpointNodePort, "tcp . 30080"); v != "drop" {
				t.Errorf("no-endpoint-nodeports: %q", v)
			}
			if got := rules(rs, ext); len(got) != 3 {
				t.Errorf("ext chain should only short-circuit pods and the node: %q", got)
			}
		}},
		{"affinity", func() service.Port { p := web(a, b); p.Affinity = time.Hour; return p }(), func(t *testing.T, rs *Ruleset) {
			got := rules(rs, svc)
			if len(got) != 4 || got[0] != "counter ip saddr @aff-default/web/http/tcp/a-8080 goto ep-default/web/http/tcp/a-8080" {
				t.Errorf("svc chain: %q", got)
			}
			if got := rules(rs, "ep-default/web/http/tcp/b-8080"); len(got) != 3 || !strings.HasPrefix(got[1], "update @aff-default/web/http/tcp/b-8080") {
				t.Errorf("ep chain: %q", got)
			}
			if m := rs.Map("aff-default/web/http/tcp/a-8080"); m == nil || m.Timeout != time.Hour {
				t.Errorf("affinity set: %+v", m)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.check(t, Build(node, []service.Port{tc.port}))
		})
	}
}

func TestBuildIsDeterministic(t *testing.T) {
	p := web(ep("b", "10.244.1.2", "n2", true), ep("a", "10.244.0.2", "n1", true))
	q := p
	q.Endpoints = []service.Endpoint{p.Endpoints[1], p.Endpoints[0]}
	if Build(node, []service.Port{p}).String() != Build(node, []service.Port{q}).String() {
		t.Fatal("endpoint order changed the ruleset")
	}
}

func TestDiffTouchesOnlyTheChangedService(t *testing.T) {
	var ports []service.Port
	for i, name := range []string{"one", "two", "three"} {
		p := web(ep(name+"-a", "10.244.0."+string(rune('2'+i)), "n1", true), ep(name+"-b", "10.244.1."+string(rune('2'+i)), "n2", true))
		p.Service, p.ClusterIP = name, netip.AddrFrom4([4]byte{10, 96, 0, byte(i)})
		ports = append(ports, p)
	}
	old := Build(node, ports)
	if ops := Diff(old, Build(node, ports)); len(ops) != 0 {
		t.Fatalf("no change gave ops %v", ops)
	}
	ports[1].Endpoints[0].Ready = false
	ops := Diff(old, Build(node, ports))
	if len(ops) == 0 {
		t.Fatal("no ops")
	}
	for _, op := range ops {
		name := ""
		if op.Chain != nil {
			name = op.Chain.Name
		} else {
			name = op.Map.Name
		}
		if !strings.Contains(name, "/two/") {
			t.Errorf("op %s touches another service", op)
		}
		if op.Kind == OpDelChain && op.Chain.Name != "ep-default/two/http/tcp/two-a-8080" {
			t.Errorf("deleted %s", op.Chain.Name)
		}
	}
	t.Log(ops)
}

func TestDiffOrder(t *testing.T) {
	// From nothing: chains, maps, rules, then elements (rules bind maps
	// before elements arrive).
	ops := Diff(nil, Build(node, []service.Port{web(ep("a", "10.244.0.2", "n1", true))}))
	last := OpKind(-1)
	for _, op := range ops {
		if op.Kind < last {
			t.Fatalf("%s after %s", op.Kind, last)
		}
		last = op.Kind
	}
	// Removing everything: deletes only, and maps before chains.
	ops = Diff(Build(node, []service.Port{web(ep("a", "10.244.0.2", "n1", true))}), Build(node, nil))
	for _, op := range ops {
		if op.Kind == OpAddChain || op.Kind == OpAddMap {
			t.Fatalf("removal added %s", op)
		}
	}
}

func TestMapReplacedWhenTimeoutChanges(t *testing.T) {
	p := web(ep("a", "10.244.0.2", "n1", true))
	p.Affinity = time.Hour
	old := Build(node, []service.Port{p})
	p.Affinity = time.Minute
	var kinds []string
	for _, op := range Diff(old, Build(node, []service.Port{p})) {
		kinds = append(kinds, op.String())
	}
	want := []string{"flush chain ep-default/web/http/tcp/a-8080", "flush chain svc-default/web/http/tcp",
		"delete map aff-default/web/http/tcp/a-8080", "add map aff-default/web/http/tcp/a-8080"}
	for _, w := range want {
		if !slices.Contains(kinds, w) {
			t.Errorf("missing %q in %q", w, kinds)
		}
	}
}

func TestHealthChecks(t *testing.T) {
	p := web(ep("a", "10.244.0.2", "n1", true), ep("b", "10.244.1.2", "n2", true), ep("c", "10.244.0.3", "n1", false))
	p.ExternalLocal, p.HealthCheckNodePort, p.NodePort = true, 32000, 30080
	q := p
	q.Name, q.Port = "https", 443 // a second port of the same service
	got := HealthChecks(node, []service.Port{p, q, web()})
	if len(got) != 1 || got[0].NodePort != 32000 || got[0].LocalEndpoints != 1 || !slices.Equal(got[0].Services, []string{"default/web"}) {
		t.Fatalf("got %+v", got)
	}
}

// TestNamesNeverCollide: names made on purpose to collide when joined with
// "-" (Service x-y/z and x/y-z, a port named like another's number) get
// chains of their own, and each Service's chain leads to its own
// endpoints only (once, one Service's traffic reached the other's pods).
func TestNamesNeverCollide(t *testing.T) {
	mk := func(ns, svc, portName string, ip byte, pod string) service.Port {
		p := web(ep(pod, "10.244.0."+fmt.Sprint(ip), "n1", true))
		p.Namespace, p.Service, p.Name = ns, svc, portName
		p.ClusterIP = netip.AddrFrom4([4]byte{10, 96, 1, ip})
		return p
	}
	ports := []service.Port{
		mk("x-y", "z", "", 2, "pod-of-xy-z"),
		mk("x", "y-z", "", 3, "pod-of-x-yz"),
		mk("a", "web", "b-c", 4, "pod-of-web-bc"),
		mk("a", "web-b", "c", 5, "pod-of-webb-c"),
	}
	rs := Build(node, ports)
	seen := map[string]string{}
	for _, p := range ports {
		id := PortID(p)
		for _, c := range []string{ClusterChain(id), EndpointChain(id, p.Endpoints[0])} {
			if other, dup := seen[c]; dup {
				t.Errorf("%s/%s and %s share chain %s", p.Namespace, p.Service, other, c)
			}
			seen[c] = p.Namespace + "/" + p.Service
		}
		got := strings.Join(rules(rs, ClusterChain(id)), "\n")
		for _, q := range ports {
			if mine := q.Endpoints[0].Pod == p.Endpoints[0].Pod; strings.Contains(got, q.Endpoints[0].Pod) != mine {
				t.Errorf("%s/%s's chain leads to %s: %v (rules: %s)", p.Namespace, p.Service, q.Endpoints[0].Pod, !mine, got)
			}
		}
	}
}
