package nft

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"

	"kinn.dev/kinn/lab/proxy"
	"kinn.dev/kinn/lab/service"
)

// asKernel is rs as the kernel would return it right after a load: rules
// encoded, counters counting, NAT's maximum registers filled in, elements
// as key and verdict bytes.
func asKernel(t testing.TB, rs *proxy.Ruleset) *kernelTable {
	t.Helper()
	kt := &kernelTable{exists: true, chains: map[string]*kernelChain{}, maps: map[string]*kernelMap{}}
	handle := uint64(1)
	for _, c := range rs.Chains {
		kc := &kernelChain{hook: hookDef(c.Hook)}
		for _, r := range c.Rules {
			nr, err := rule(&nftables.Table{}, c.Name, r)
			if err != nil {
				t.Fatal(err)
			}
			for i, e := range nr.Exprs {
				switch e := e.(type) {
				case *expr.Counter:
					nr.Exprs[i] = &expr.Counter{Packets: handle, Bytes: 60 * handle}
				case *expr.NAT:
					n := *e
					n.RegAddrMax, n.RegProtoMax = n.RegAddrMin, n.RegProtoMin
					nr.Exprs[i] = &n
				}
			}
			kc.rules = append(kc.rules, kernelRule{handle: handle, exprs: nr.Exprs, comment: r.Comment})
			handle++
		}
		kt.chains[c.Name] = kc
		kt.order = append(kt.order, c.Name)
	}
	for _, m := range rs.Maps {
		km := &kernelMap{def: setDef(set(&nftables.Table{}, m))}
		for _, e := range m.Elems {
			km.elems = append(km.elems, nftables.SetElement{Key: key(m.Key, e.Key), Val: verdictBytes(e.Verdict)})
		}
		kt.maps[m.Name] = km
	}
	return kt
}

func comparePorts() []service.Port {
	web := svc("web", service.TCP, "10.96.0.10", ep("p1"), ep("p2"))
	web.NodePort = 30080
	return []service.Port{web, svc("dns", service.UDP, "10.96.0.11", ep("p3"))}
}

// TestCompare: the comparison finds exactly what was changed, in the
// terms `kinn rules` and the log use.
func TestCompare(t *testing.T) {
	t.Parallel()
	want := proxy.Build(fixtureNode, comparePorts())
	web := comparePorts()[0]
	id := proxy.PortID(web)
	epChain := proxy.EndpointChain(id, web.Endpoints[0])
	svcChain := proxy.ClusterChain(id)
	for _, c := range []struct {
		name   string
		change func(kt *kernelTable)
		want   string // in Lines, joined
	}{
		{"as written", func(*kernelTable) {}, ""},
		{"dnat rule deleted", func(kt *kernelTable) {
			kt.chains[epChain].rules = kt.chains[epChain].rules[:1]
		}, "chain " + epChain + " had 1 of 2 rules; missing: meta l4proto tcp dnat to 10.244.0.11:8080"},
		{"rules swapped", func(kt *kernelTable) {
			r := kt.chains[svcChain].rules
			r[0], r[1] = r[1], r[0]
		}, "chain " + svcChain + " had its 2 rules out of order"},
		{"a rule duplicated", func(kt *kernelTable) {
			kc := kt.chains[epChain]
			dup := kc.rules[1]
			dup.handle = 99
			kc.rules = append(kc.rules, dup)
		}, "chain " + epChain + " had 1 rule kinn did not write; extra: meta l4proto tcp dnat to 10.244.0.11:8080 (handle 99)"},
		{"a foreign rule", func(kt *kernelTable) {
			kc := kt.chains[svcChain]
			kc.rules = slices.Insert(kc.rules, 0, kernelRule{handle: 77, exprs: []expr.Any{&expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop}}})
		}, "chain " + svcChain + " had 1 rule kinn did not write; extra: handle 77: counter drop"},
		{"an expression kinn never writes", func(kt *kernelTable) {
			kc := kt.chains[epChain]
			kc.rules[1].exprs = append(kc.rules[1].exprs, &opaque{name: "log"})
		}, "chain " + epChain + " had 1 of 2 rules; missing: meta l4proto tcp dnat to 10.244.0.11:8080; had 1 rule kinn did not write; extra: handle"},
		{"a port changed", func(kt *kernelTable) {
			kc := kt.chains[epChain]
			kc.rules[1].exprs = slices.Clone(kc.rules[1].exprs)
			kc.rules[1].exprs[3] = &expr.Immediate{Register: reg2, Data: []byte{0, 81}}
		}, "missing: meta l4proto tcp dnat to 10.244.0.11:8080; had 1 rule kinn did not write; extra: handle"},
		{"a comment changed", func(kt *kernelTable) {
			kt.chains[epChain].rules[0].comment = "mine"
		}, "chain " + epChain + " had 1 of 2 rules; missing: counter ip saddr 10.244.0.11 jump mark-for-masquerade comment \"hairpin: a pod reaching itself\""},
		{"chain deleted", func(kt *kernelTable) { delete(kt.chains, epChain) }, "chain " + epChain + " missing (2 rules)"},
		{"chain added", func(kt *kernelTable) {
			kt.chains["mine"] = &kernelChain{rules: []kernelRule{{handle: 5, exprs: []expr.Any{&expr.Counter{}}}}}
			kt.order = append(kt.order, "mine")
		}, "chain mine is not kinn's (1 rule)"},
		{"hook changed", func(kt *kernelTable) {
			kt.chains["nat-output"].hook = "type nat hook output priority 0 policy accept"
		}, `chain nat-output: "type nat hook output priority 0 policy accept", want "type nat hook output priority -100 policy accept"`},
		{"element deleted", func(kt *kernelTable) {
			kt.maps[proxy.MapServiceNodePorts].elems = nil
		}, "map service-nodeports had 0 of 1 element; missing: tcp . 30080 : goto ext-default/web/80/tcp"},
		{"element added", func(kt *kernelTable) {
			m := kt.maps[proxy.MapServiceIPs]
			m.elems = append(m.elems, nftables.SetElement{
				Key: key(proxy.KeyServiceIP, proxy.Key{Addr: netip.MustParseAddr("10.96.7.7"), Proto: service.SCTP, Port: 9}),
				Val: verdictBytes(proxy.Verdict{Kind: proxy.Drop})})
		}, "map service-ips had 1 element kinn did not write; extra: 10.96.7.7 . sctp . 9 : drop"},
		{"cluster-ips element deleted", func(kt *kernelTable) {
			kt.maps[proxy.SetClusterIPs].elems = nil
		}, "map cluster-ips had 0 of 2 elements; missing: 10.96.0.10; missing: 10.96.0.11"},
		{"cluster-ips element added", func(kt *kernelTable) {
			m := kt.maps[proxy.SetClusterIPs]
			m.elems = append(m.elems, nftables.SetElement{Key: key(proxy.KeyAddr, proxy.Key{Addr: netip.MustParseAddr("10.96.7.7")})})
		}, "map cluster-ips had 1 element kinn did not write; extra: 10.96.7.7"},
		{"verdict changed", func(kt *kernelTable) {
			m := kt.maps[proxy.MapServiceIPs]
			m.elems = slices.Clone(m.elems)
			for i := range m.elems {
				m.elems[i].Val = verdictBytes(proxy.Verdict{Kind: proxy.Jump, Chain: "elsewhere"})
			}
		}, "map service-ips had 0 of 2 elements; missing: 10.96.0.10 . tcp . 80 : goto " + svcChain},
		{"an element kinn cannot read", func(kt *kernelTable) {
			m := kt.maps[proxy.MapServiceNodePorts]
			m.elems = append(m.elems, nftables.SetElement{Key: []byte{47, 0, 0, 0, 0, 1, 0, 0}, Val: verdictBytes(proxy.Verdict{Kind: proxy.Drop})})
		}, "map service-nodeports: element 2f00000000010000: protocol 47"},
		{"map redefined", func(kt *kernelTable) {
			kt.maps[proxy.MapServiceIPs].def = "key length 4 map true dynamic false timeout 0s"
		}, "map service-ips: key length 4 map true dynamic false timeout 0s, want key length 12 map true dynamic false timeout 0s"},
		{"map deleted", func(kt *kernelTable) { delete(kt.maps, proxy.MapNoEndpointServices) }, "map no-endpoint-services missing (0 elements)"},
		{"map added", func(kt *kernelTable) { kt.maps["theirs"] = &kernelMap{} }, "map theirs is not kinn's"},
		{"table deleted", func(kt *kernelTable) { kt.exists = false }, "table ip kinn missing"},
	} {
		kt := asKernel(t, want)
		c.change(kt)
		d, err := compare(want, kt)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got := strings.Join(d.Lines(), "\n")
		if c.want == "" && got != "" || !strings.Contains(got, c.want) {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
		if len(d.Lines()) > 1 && c.name != "verdict changed" {
			t.Errorf("%s: more than the change: %q", c.name, d.Lines())
		}
	}
}

// TestDecodeElem: elements read back from the kernel decode to the
// elements kinn writes, for every key kind.
func TestDecodeElem(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		kind proxy.KeyKind
		k    proxy.Key
	}{
		{proxy.KeyServiceIP, proxy.Key{Addr: netip.MustParseAddr("10.96.0.10"), Proto: service.UDP, Port: 53}},
		{proxy.KeyNodePort, proxy.Key{Proto: service.TCP, Port: 30080}},
		{proxy.KeyIndex, proxy.Key{Index: 7}},
		{proxy.KeyAddr, proxy.Key{Addr: netip.MustParseAddr("10.244.0.2")}},
	} {
		v := proxy.Verdict{Kind: proxy.Goto, Chain: "svc-x"}
		val := verdictBytes(v)
		if c.kind == proxy.KeyAddr { // a set: no verdicts
			v, val = proxy.Verdict{}, nil
		}
		got, err := decodeElem(c.kind, nftables.SetElement{Key: key(c.kind, c.k), Val: val})
		if err != nil || got != (proxy.Elem{Key: c.k, Verdict: v}) {
			t.Errorf("%s: got %v %v", c.k.String(c.kind), got, err)
		}
	}
}

// BenchmarkCompare is the comparison alone (no kernel): 1,000 Services,
// 3 endpoints each, nothing drifted.
func BenchmarkCompare(b *testing.B) {
	want := proxy.Build(proxy.Node{Name: "n1"}, manyPorts(1000))
	kt := asKernel(b, want)
	for b.Loop() {
		if d, err := compare(want, kt); err != nil || !d.Empty() {
			b.Fatal(d.Lines(), err)
		}
	}
}
