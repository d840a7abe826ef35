package nft

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"

	"kinn.dev/kinn/lab/kernel"
	"kinn.dev/kinn/lab/kernel/kerneltest"
	"kinn.dev/kinn/lab/proxy"
	"kinn.dev/kinn/lab/service"
)

// manyPorts is n ClusterIP services with 3 ready endpoints each.
func manyPorts(n int) []service.Port {
	ports := make([]service.Port, n)
	for i := range ports {
		vip := netip.AddrFrom4([4]byte{10, 96, byte(i >> 8), byte(i)})
		p := service.Port{Namespace: "bench", Service: fmt.Sprintf("svc%05d", i), Protocol: service.TCP, ClusterIP: vip, Port: 80}
		for e := range 3 {
			k := i*3 + e
			ip := netip.AddrFrom4([4]byte{10, 244, byte(k >> 8), byte(k)})
			p.Endpoints = append(p.Endpoints, service.Endpoint{Namespace: "bench", Pod: fmt.Sprintf("pod%06d", k),
				Node: fmt.Sprintf("n%d", e+1), IP: ip, Port: 8080, Ready: true, Serving: true})
		}
		ports[i] = p
	}
	return ports
}

func benchTable(b *testing.B) *Table {
	b.Helper()
	ns := kerneltest.NewLab(b, "nftbench").Netns("node")
	if _, err := kernel.CreateNetns(ns); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { kernel.DeleteNetns(ns) })
	t, err := Open(ns)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { t.Close() })
	return t
}

// loadBench times full loads into an empty namespace with the given writer.
func loadBench(b *testing.B, n int, layout proxy.Layout, write func(*Table, *proxy.Ruleset) error) {
	t := benchTable(b)
	rs := proxy.BuildLayout(proxy.Node{Name: "n1"}, manyPorts(n), layout)
	for b.Loop() {
		b.StopTimer()
		if err := t.Delete(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := write(t, rs); err != nil {
			b.Fatal(err)
		}
	}
	perOp := float64(b.Elapsed().Milliseconds()) / float64(b.N)
	b.ReportMetric(perOp, "ms/load")
	b.ReportMetric(perOp*1000/float64(n), "µs/service")
}

// BenchmarkLoad is kinn's layout (proxy.Cascade): plain chains and rules.
func BenchmarkLoad(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) { loadBench(b, n, proxy.Cascade, (*Table).Load) })
	}
}

// BenchmarkLoadNamedMaps is a named numgen map per service, bound before any
// element is added.
func BenchmarkLoadNamedMaps(b *testing.B) {
	for _, n := range []int{1000, 4000, 10000} {
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) { loadBench(b, n, proxy.NamedMaps, (*Table).Load) })
	}
}

// BenchmarkLoadElementsFirst is the same layout with each map's elements
// added right after the map, before the rules that bind it.
func BenchmarkLoadElementsFirst(b *testing.B) {
	for _, n := range []int{1000, 4000} {
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) { loadBench(b, n, proxy.NamedMaps, loadElementsFirst) })
	}
}

// BenchmarkLoadKubeProxyLayout is kube-proxy's layout: each service chain
// carries an anonymous `numgen random mod N vmap { ... }` set.
func BenchmarkLoadKubeProxyLayout(b *testing.B) {
	for _, n := range []int{1000, 4000, 10000} {
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) { loadBench(b, n, proxy.NamedMaps, loadAnonymous) })
	}
}

// BenchmarkOneEndpointChange: with 10,000 services loaded, one endpoint of
// one service stops being ready (then comes back), as Diff + Apply.
func BenchmarkOneEndpointChange(b *testing.B) {
	t := benchTable(b)
	ports := manyPorts(10000)
	node := proxy.Node{Name: "n1"}
	cur := proxy.Build(node, ports)
	if err := t.Load(cur); err != nil {
		b.Fatal(err)
	}
	var ops int
	for b.Loop() {
		ports[5000].Endpoints[1].Ready = !ports[5000].Endpoints[1].Ready
		next := proxy.Build(node, ports)
		diff := proxy.Diff(cur, next)
		if err := t.Apply(diff); err != nil {
			b.Fatal(err)
		}
		cur, ops = next, len(diff)
	}
	b.ReportMetric(float64(ops), "ops/change")
}

// BenchmarkOneEndpointChangeApplyOnly times only the kernel transaction.
func BenchmarkOneEndpointChangeApplyOnly(b *testing.B) {
	t := benchTable(b)
	ports := manyPorts(10000)
	node := proxy.Node{Name: "n1"}
	a := proxy.Build(node, ports)
	ports[5000].Endpoints[1].Ready = false
	c := proxy.Build(node, ports)
	if err := t.Load(a); err != nil {
		b.Fatal(err)
	}
	there, back := proxy.Diff(a, c), proxy.Diff(c, a)
	i := 0
	for b.Loop() {
		ops := there
		if i%2 == 1 {
			ops = back
		}
		if err := t.Apply(ops); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func loadElementsFirst(t *Table, rs *proxy.Ruleset) error {
	var ops, elems []proxy.Op
	for _, op := range proxy.Diff(nil, rs) {
		if op.Kind == proxy.OpAddElems {
			continue
		}
		ops = append(ops, op)
		if op.Kind == proxy.OpAddMap && len(rs.Map(op.Map.Name).Elems) > 0 {
			elems = append(elems, proxy.Op{Kind: proxy.OpAddElems, Map: rs.Map(op.Map.Name)})
		}
	}
	// Splice each map's elements right after all map creations, before rules.
	var out []proxy.Op
	for i, op := range ops {
		out = append(out, op)
		if op.Kind == proxy.OpAddMap && (i+1 == len(ops) || ops[i+1].Kind != proxy.OpAddMap) {
			out = append(out, elems...)
		}
	}
	t.conn.AddTable(t.table)
	return t.flush(out)
}

// loadAnonymous writes rs with kube-proxy's anonymous numgen sets instead of
// the named numgen maps.
func loadAnonymous(t *Table, rs *proxy.Ruleset) error {
	t.conn.AddTable(t.table)
	n := 1
	for _, op := range proxy.Diff(nil, rs) {
		if op.Map != nil && op.Map.Key == proxy.KeyIndex {
			continue // folded into the rule below
		}
		if op.Kind != proxy.OpAddRules {
			m, err := t.queue(op)
			if err != nil {
				return err
			}
			n += m
			continue
		}
		for _, r := range op.Chain.Rules {
			if err := queueRuleAnonymous(t, rs, op.Chain.Name, r); err != nil {
				return err
			}
			n += 2
		}
	}
	if err := t.sizeBuffers(n); err != nil {
		return err
	}
	return t.conn.Flush()
}

func queueRuleAnonymous(t *Table, rs *proxy.Ruleset, chain string, r proxy.Rule) error {
	nr, err := rule(t.table, chain, r)
	if err != nil {
		return err
	}
	for _, e := range r.Exprs {
		v, ok := e.(proxy.Vmap)
		if !ok || v.Key != proxy.KeyIndex {
			continue
		}
		m := rs.Map(v.Map)
		s := &nftables.Set{Table: t.table, Anonymous: true, Constant: true, IsMap: true,
			KeyType: nftables.TypeInteger, KeyByteOrder: binaryutil.NativeEndian, DataType: nftables.TypeVerdict}
		if err := t.conn.AddSet(s, elems(m)); err != nil {
			return err
		}
		for _, x := range nr.Exprs {
			if l, ok := x.(*expr.Lookup); ok && l.SetName == v.Map {
				l.SetName, l.SetID = s.Name, s.ID
			}
		}
	}
	t.conn.AddRule(nr)
	return nil
}

// BenchmarkOneEndpointChangeIncremental is what the lab process does: only
// the changed service is built and diffed (proxy.Changes), then applied.
func BenchmarkOneEndpointChangeIncremental(b *testing.B) {
	t := benchTable(b)
	ports := manyPorts(10000)
	node := proxy.Node{Name: "n1"}
	if err := t.Load(proxy.Build(node, ports)); err != nil {
		b.Fatal(err)
	}
	var ops int
	for b.Loop() {
		next := slices.Clone(ports)
		next[5000].Endpoints = slices.Clone(next[5000].Endpoints)
		next[5000].Endpoints[1].Ready = !next[5000].Endpoints[1].Ready
		diff := proxy.Changes(node, ports, next)
		if err := t.Apply(diff); err != nil {
			b.Fatal(err)
		}
		ports, ops = next, len(diff)
	}
	b.ReportMetric(float64(ops), "ops/change")
}

// BenchmarkDriftCheck: with 1,000 Services synced into one node, the lab
// process's periodic check when nothing changed (one ruleset generation
// read), a full comparison (what a moved generation costs: build, read
// back, compare), what `kinn rules` and the Rules screen pay per call
// (Inspect), and the old check (does the table exist?) for reference.
func BenchmarkDriftCheck(b *testing.B) {
	t := benchTable(b)
	node := proxy.Node{Name: "n1"}
	ports := manyPorts(1000)
	if _, err := t.Sync(node, ports); err != nil {
		b.Fatal(err)
	}
	check := func(moved bool) func(b *testing.B) {
		return func(b *testing.B) {
			for b.Loop() {
				if moved {
					t.verified = 0 // as if someone had committed
				}
				d, _, err := t.Repair()
				if err != nil || !d.Empty() {
					b.Fatal(d.Lines(), err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/check")
		}
	}
	b.Run("unchanged", check(false))
	b.Run("compare", check(true))
	b.Run("inspect", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := t.Inspect(proxy.Build(node, ports)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("exists", func(b *testing.B) {
		for b.Loop() {
			if _, err := t.Exists(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
