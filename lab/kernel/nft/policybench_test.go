package nft

import (
	"fmt"
	"net/netip"
	"testing"

	"kinn.dev/kinn/lab/proxy"
	"kinn.dev/kinn/lab/service"
)

// policyScale is a NetworkPolicy-shaped ruleset at the design note's
// scale (1,000 policies x 1,000 pods): 1,000 chains, 5,000 rules, 50,000
// set elements, in the shapes the building blocks make.
func policyScale() *proxy.Ruleset {
	const podChains, polChains = 500, 500
	a4 := func(b0 byte, k int) netip.Addr {
		return netip.AddrFrom4([4]byte{b0, byte(k >> 16), byte(k >> 8), byte(k)})
	}
	rs := &proxy.Ruleset{}
	set := func(name string, kind proxy.KeyKind, n int, el func(k int) proxy.Elem) {
		m := &proxy.Map{Name: name, Key: kind}
		for k := range n {
			m.Elems = append(m.Elems, el(k))
		}
		rs.Maps = append(rs.Maps, m)
	}
	pod := func(k int) string { return fmt.Sprintf("pod-%04d-in", k%podChains) }
	set("peer-pods", proxy.KeyAddrGroup, 35000, func(k int) proxy.Elem {
		return proxy.Elem{Key: proxy.Key{Addr: a4(10, k), Group: uint32(k % 1000)}}
	})
	set("peer-cidrs", proxy.KeyRangeGroup, 8000, func(k int) proxy.Elem {
		return proxy.Elem{Key: proxy.Key{Addr: a4(172, k*8), Last: a4(172, k*8+7), Group: uint32(k % 100)}}
	})
	set("named-ports", proxy.KeyNamedPort, 5000, func(k int) proxy.Elem {
		return proxy.Elem{Key: proxy.Key{Addr: a4(10, k), Proto: service.TCP, Port: uint16(8000 + k%50), Group: uint32(k % 20)}}
	})
	set("in-pods", proxy.KeyAddrVerdict, 1000, func(k int) proxy.Elem {
		return proxy.Elem{Key: proxy.Key{Addr: a4(10, k)}, Verdict: proxy.Verdict{Kind: proxy.Goto, Chain: pod(k)}}
	})
	set("eg-pods", proxy.KeyAddrVerdict, 1000, func(k int) proxy.Elem {
		return proxy.Elem{Key: proxy.Key{Addr: a4(10, k+1000)}, Verdict: proxy.Verdict{Kind: proxy.Goto, Chain: pod(k)}}
	})
	accept := proxy.Verdict{Kind: proxy.Accept}
	for k := range polChains {
		id := uint8(k % 32)
		c := &proxy.Chain{Name: fmt.Sprintf("pol-%04d-in", k)}
		for r := range 6 {
			var peer proxy.Expr = proxy.AddrGroupIn{Source: true, Group: uint32(k*6 + r), Set: "peer-pods"}
			if r == 5 {
				peer = proxy.AddrGroupIn{Source: true, Group: uint32(k % 100), Set: "peer-cidrs"}
			}
			port := proxy.Expr(proxy.Dport{First: 80, Last: 80})
			if r == 4 {
				port = proxy.NamedPortIn{Name: uint32(k % 20), Set: "named-ports"}
			}
			c.Rules = append(c.Rules, proxy.Rule{Exprs: []proxy.Expr{peer, proxy.L4Proto{Proto: service.TCP}, port,
				proxy.Log{Group: 100, Prefix: fmt.Sprintf("np A I %d.%d", k, r)}, proxy.CtLabelSet{Bit: id}, accept}})
		}
		rs.Chains = append(rs.Chains, c)
	}
	for k := range podChains {
		c := &proxy.Chain{Name: pod(k)}
		for j := range 3 {
			c.Rules = append(c.Rules, proxy.Rule{Exprs: []proxy.Expr{proxy.Verdict{Kind: proxy.Jump, Chain: fmt.Sprintf("pol-%04d-in", (k+j*7)%polChains)}}})
		}
		c.Rules = append(c.Rules, proxy.Rule{Exprs: []proxy.Expr{proxy.Log{Group: 100, Prefix: "np D I " + pod(k)}, proxy.Verdict{Kind: proxy.Drop}}})
		rs.Chains = append(rs.Chains, c)
	}
	rs.Chains = append(rs.Chains, &proxy.Chain{Name: "ingress", Hook: &proxy.Hook{Type: "filter", Hook: "forward", Priority: 5}, Rules: []proxy.Rule{
		{Exprs: []proxy.Expr{proxy.CtState{State: "established,related"}, accept}},
		{Exprs: []proxy.Expr{proxy.Vmap{Key: proxy.KeyAddrVerdict, Map: "in-pods"}}},
	}}, &proxy.Chain{Name: "egress", Hook: &proxy.Hook{Type: "filter", Hook: "forward", Priority: 0}, Rules: []proxy.Rule{
		{Exprs: []proxy.Expr{proxy.CtState{State: "established,related"}, accept}},
		{Exprs: []proxy.Expr{proxy.Vmap{Key: proxy.KeyAddrVerdict, Source: true, Map: "eg-pods"}}},
	}})
	return rs
}

// BenchmarkLoadPolicyScale times loading policyScale in one transaction
// into an empty namespace.
func BenchmarkLoadPolicyScale(b *testing.B) {
	t := benchTable(b)
	rs := policyScale()
	for b.Loop() {
		b.StopTimer()
		if err := t.Delete(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := t.Load(rs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/load")
}

// BenchmarkPolicyChange times one typical change on the loaded table: a
// pod relabelled (an element out of one group, into another) and one
// policy chain rewritten.
func BenchmarkPolicyChange(b *testing.B) {
	t := benchTable(b)
	rs := policyScale()
	if err := t.Load(rs); err != nil {
		b.Fatal(err)
	}
	alt := policyScale()
	alt.Map("peer-pods").Elems[0].Key.Group = 999_999
	c := alt.Chain("pol-0000-in")
	c.Rules = c.Rules[1:]
	there, back := proxy.Diff(rs, alt), proxy.Diff(alt, rs)
	for i := 0; b.Loop(); i++ {
		ops := there
		if i%2 == 1 {
			ops = back
		}
		if err := t.Apply(ops); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/change")
}
