package nft

import (
	"testing"
	"time"

	"kinn.dev/kinn/lab/proxy"
	"kinn.dev/kinn/lab/service"
)

// TestFingerprint: a commit to another table (a kinn trace's, portmap's)
// moves the generation but not the kinn table's fingerprint, so Repair
// verifies it without comparing it rule by rule, also after traffic moved
// its counters; a rule replaced in place (same handle) or a map element
// deleted by hand changes the fingerprint, and Repair finds and undoes it.
func TestFingerprint(t *testing.T) {
	f := newFixture(t)
	web := svc("web", service.TCP, "10.96.0.80", ep("p1"))
	ports := []service.Port{web}
	if _, err := f.table.Sync(fixtureNode, ports); err != nil {
		t.Fatal(err)
	}
	other := func() {
		f.nft("add", "table", "ip", "other")
		f.nft("delete", "table", "ip", "other")
	}
	other()
	if d, _, err := f.table.Repair(); err != nil || !d.Empty() || f.table.sum == nil {
		t.Fatalf("first check after another table's commits: %v %v, fingerprint %x", d.Lines(), err, f.table.sum)
	}
	unchanged := func() bool { return f.atGen(f.table.unchanged) }
	other()
	if _, err := f.tcp("c", "10.96.0.80:80", time.Second); err != nil {
		t.Fatal(err)
	}
	if !unchanged() {
		t.Fatal("another table's commits and traffic changed the kinn table's fingerprint")
	}

	epChain := proxy.EndpointChain(proxy.PortID(web), web.Endpoints[0])
	h := f.handle(epChain, "dnat to")
	f.nft("replace", "rule", "ip", "kinn", epChain, "handle", h, "meta", "l4proto", "tcp", "dnat", "to", "10.244.0.12:8080")
	if unchanged() {
		t.Fatal("a rule replaced in place left the fingerprint as it was")
	}
	if d, _, err := f.table.Repair(); err != nil || d.Chain(epChain) == nil {
		t.Fatalf("repair after a replaced rule: %v %v", d.Lines(), err)
	}
	other()
	if d, _, err := f.table.Repair(); err != nil || !d.Empty() {
		t.Fatalf("check after the repair: %v %v", d.Lines(), err)
	}
	f.nft("delete", "element", "ip", "kinn", "service-ips", "{ 10.96.0.80 . tcp . 80 }")
	if unchanged() {
		t.Fatal("a map element deleted by hand left the fingerprint as it was")
	}
	if d, _, err := f.table.Repair(); err != nil || len(d.Maps) == 0 {
		t.Fatalf("repair after a deleted element: %v %v", d.Lines(), err)
	}
}

// TestChanges: the namespace's notifications tell Repair that only other
// tables changed since it verified the kinn table (no read back at all),
// and that a change by hand to the kinn table, or kinn's own repair, did
// touch it.
func TestChanges(t *testing.T) {
	f := newFixture(t)
	web := svc("web", service.TCP, "10.96.0.81", ep("p1"))
	if _, err := f.table.Sync(fixtureNode, []service.Port{web}); err != nil {
		t.Fatal(err)
	}
	other := func() {
		f.nft("add", "table", "ip", "other")
		f.nft("delete", "table", "ip", "other")
	}
	untouched := func() bool {
		return f.atGen(func(g uint32) bool { return f.table.changes.untouched(f.table.verified, g) })
	}
	other()
	if d, _, err := f.table.Repair(); err != nil || !d.Empty() || f.table.changes == nil {
		t.Fatalf("first check: %v %v, listening %v", d.Lines(), err, f.table.changes != nil)
	}
	other()
	if !untouched() {
		t.Fatal("another table's commits count as the kinn table's")
	}
	if d, _, err := f.table.Repair(); err != nil || !d.Empty() {
		t.Fatalf("check after another table's commits: %v %v", d.Lines(), err)
	}
	epChain := proxy.EndpointChain(proxy.PortID(web), web.Endpoints[0])
	f.nft("replace", "rule", "ip", "kinn", epChain, "handle", f.handle(epChain, "dnat to"), "meta", "l4proto", "tcp", "dnat", "to", "10.244.0.12:8080")
	other()
	if untouched() {
		t.Fatal("a rule replaced by hand went unnoticed")
	}
	if d, _, err := f.table.Repair(); err != nil || d.Chain(epChain) == nil {
		t.Fatalf("repair after a replaced rule: %v %v", d.Lines(), err)
	}
	other()
	if !untouched() {
		t.Fatal("after kinn's own repair, another table's commits count as the kinn table's")
	}
}

// atGen asks check about the table at the namespace's generation now,
// with the table's lock held.
func (f *fixture) atGen(check func(g uint32) bool) bool {
	f.t.Helper()
	f.table.mu.Lock()
	defer f.table.mu.Unlock()
	g, err := f.table.gen()
	if err != nil {
		f.t.Fatal(err)
	}
	return check(g)
}
