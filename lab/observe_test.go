package lab

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"kinn.dev/kinn/lab/kernel"
	"kinn.dev/kinn/lab/kernel/kerneltest"
	"kinn.dev/kinn/lab/kernel/nft"
	"kinn.dev/kinn/lab/probe"
	"kinn.dev/kinn/lab/proxy"
	"kinn.dev/kinn/topology"
)

// TestObserveTraffic: pings between two pods on different nodes show up in
// both pods' counters, in the VTEPs' counters, and as tracked connections.
func TestObserveTraffic(t *testing.T) {
	l := kerneltest.NewLab(t, "obs")
	name := l.Name
	doc := kerneltest.Topology(name, 2, 2)
	tl, _, err := topology.Parse("obs.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	o := Options{StateRoot: l.StateDir, RuntimeRoot: l.RunDir}
	t.Cleanup(func() { Down(context.Background(), o, name) })
	if _, err := Up(context.Background(), o, Source{Lab: tl, Raw: []byte(doc), Path: "obs.yaml"}); err != nil {
		t.Fatal(err)
	}
	st, err := Load(o, name)
	if err != nil {
		t.Fatal(err)
	}
	a, b := st.Plan.Pods[0], st.Plan.Pods[1]
	if a.Node == b.Node {
		t.Fatalf("both pods on %s", a.Node)
	}
	// Connection tracking runs in a namespace once a ruleset uses it: the
	// proxy's, as the lab process loads it.
	for _, n := range st.Plan.Nodes {
		tb, err := nft.Open(n.Netns)
		if err != nil {
			t.Fatal(err)
		}
		if err := tb.Load(proxy.Build(proxy.Node{Name: n.Name}, nil)); err != nil {
			t.Fatal(err)
		}
		tb.Close()
	}
	// Subscribe before the traffic: its connections must then arrive as
	// conntrack events, not through the first dump.
	ct := NewConnTracker()
	defer ct.Close()
	if _, errs := st.Connections(context.Background(), ct); len(errs) != 0 {
		t.Fatal(errs)
	}
	before := samples(t, st)
	p := probe.Prober{Enter: kernel.Do, Netns: a.Netns, Timeout: time.Second}
	for range 5 {
		if got, err := p.Ping([]netip.Addr{b.IP.Addr()}); err != nil || got[b.IP.Addr()] != nil {
			t.Fatalf("ping %s: %v %v", b.IP, got, err)
		}
	}
	after := samples(t, st)
	for _, key := range []string{a.Key(), b.Key(), a.Node + "/vxlan.1", b.Node + "/vxlan.1"} {
		if after[key].TxPackets+after[key].RxPackets < before[key].TxPackets+before[key].RxPackets+10 {
			t.Errorf("%s: counters did not grow by 10 packets: %+v -> %+v", key, before[key], after[key])
		}
	}
	if after[a.Key()].TxPackets < before[a.Key()].TxPackets+5 {
		t.Errorf("pod %s sent 5 echoes, its tx counter says %d", a.Key(), after[a.Key()].TxPackets-before[a.Key()].TxPackets)
	}
	found := false
	for try := 0; try < 20 && !found; try++ {
		time.Sleep(50 * time.Millisecond) // events are applied asynchronously
		conns, errs := st.Connections(context.Background(), ct)
		if len(errs) != 0 {
			t.Fatal(errs)
		}
		for _, c := range conns {
			found = found || (c.Proto == "ICMP" && c.Client.Addr() == a.IP.Addr() && c.Dest.Addr() == b.IP.Addr())
		}
	}
	if !found {
		t.Errorf("no ICMP connection %s -> %s arrived as a conntrack event", a.IP.Addr(), b.IP.Addr())
	}
}

func samples(t *testing.T, st *State) map[string]LinkSample {
	s, errs := st.LinkSamples(context.Background())
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	out := map[string]LinkSample{}
	for _, x := range s {
		out[x.Name] = x
	}
	return out
}
