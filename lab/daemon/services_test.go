package daemon

import (
	"net/netip"
	"testing"

	"kinn.dev/kinn/lab/kernel"
	"kinn.dev/kinn/lab/kernel/kerneltest"
	"kinn.dev/kinn/lab/kernel/nft"
	"kinn.dev/kinn/lab/plan"
	"kinn.dev/kinn/lab/proxy"
)

// TestProxyNodeRecreated: a node namespace deleted by hand makes the
// proxy's sync fail until `kinn up` makes it anew; the proxy then loads the
// new namespace's table. It must not keep the table it closed meanwhile: a
// namespace made anew often gets the freed one's inode number, and the
// closed table would pass for current (TestDriftRepair's "list tables in
// ...: setns: bad file descriptor").
func TestProxyNodeRecreated(t *testing.T) {
	ns := kerneltest.NewLab(t, "proxyns").Netns("node")
	node := proxy.Node{Name: "n", IPs: []netip.Addr{netip.MustParseAddr("192.0.2.1")}}
	p := newProxies("auto")
	t.Cleanup(p.close)
	if _, err := kernel.CreateNetns(ns); err != nil {
		t.Fatal(err)
	}
	if err := p.sync(ns, node, nil); err != nil {
		t.Fatal(err)
	}
	if err := kernel.DeleteNetns(ns); err != nil {
		t.Fatal(err)
	}
	if err := p.sync(ns, node, nil); err == nil {
		t.Fatal("sync into a deleted namespace worked")
	}
	for netns, tb := range p.tables {
		if _, err := tb.Exists(); err != nil {
			t.Errorf("the proxy keeps an unusable table for %s: %v", netns, err)
		}
	}
	if _, err := kernel.CreateNetns(ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kernel.DeleteNetns(ns) })
	if !p.recreated([]plan.Node{{Name: "n", Netns: ns}}) {
		t.Error("a recreated node namespace without the table is not drift")
	}
	if err := p.sync(ns, node, nil); err != nil {
		t.Fatalf("sync into the recreated namespace: %v", err)
	}
	tb, err := nft.Open(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Close()
	if ok, err := tb.Exists(); !ok || err != nil {
		t.Errorf("no table in the recreated namespace: %v, %v", ok, err)
	}
}
