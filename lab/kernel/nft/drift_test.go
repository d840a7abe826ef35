package nft

import (
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"kinn.dev/kinn/lab/proxy"
	"kinn.dev/kinn/lab/service"
)

// everyShape is one Service port of each shape Build knows, over the
// fixture's pods: affinity, NodePort with both policies, external IPs,
// internal Local, UDP, no endpoints.
func everyShape() []service.Port {
	web := svc("web", service.TCP, "10.96.0.10", ep("p1"), ep("p2"), ep("p3"))
	sticky := svc("sticky", service.TCP, "10.96.0.11", ep("p1"), ep("p2"))
	sticky.Affinity = time.Minute
	np := svc("np", service.TCP, "10.96.0.12", ep("p1"), ep("10.244.1.7", "n2"))
	np.NodePort, np.ExternalIPs = 30012, []netip.Addr{netip.MustParseAddr("192.0.2.1")}
	local := svc("local", service.TCP, "10.96.0.13", ep("p3"), ep("10.244.1.8", "n2"))
	local.NodePort, local.ExternalLocal = 30013, true
	remote := svc("remote", service.TCP, "10.96.0.14", ep("10.244.1.9", "n2"))
	remote.NodePort, remote.ExternalLocal = 30014, true
	itp := svc("itp", service.TCP, "10.96.0.15", ep("10.244.1.9", "n2"))
	itp.InternalLocal = true
	dns := svc("dns", service.UDP, "10.96.0.16", ep("p1"), ep("p2"))
	empty := svc("empty", service.TCP, "10.96.0.17")
	return []service.Port{web, sticky, np, local, remote, itp, dns, empty}
}

var fixtureNode = proxy.Node{Name: nodeName, IPs: []netip.Addr{netip.MustParseAddr(nodeIP)}}

// TestReadBackMatches: a table as kinn wrote it, read back from the kernel,
// compares equal to the ruleset in every shape, so a comparison finds only
// what someone changed.
func TestReadBackMatches(t *testing.T) {
	f := newFixture(t)
	ports := everyShape()
	if _, err := f.table.Sync(fixtureNode, ports); err != nil {
		t.Fatal(err)
	}
	_, d, err := f.table.Inspect(proxy.Build(fixtureNode, ports))
	if err != nil {
		t.Fatal(err)
	}
	if !d.Empty() {
		t.Fatalf("a table as written compares different:\n%s\n%s", strings.Join(d.Lines(), "\n"), f.nft("list", "table", "ip", "kinn"))
	}
}

// handle finds the handle of the rule in chain whose nft text contains
// what, as an admin would with `nft -a list chain`.
func (f *fixture) handle(chain, what string) string {
	f.t.Helper()
	out := f.nft("-a", "list", "chain", "ip", "kinn", chain)
	for _, l := range strings.Split(out, "\n") {
		if m := regexp.MustCompile(`# handle (\d+)`).FindStringSubmatch(l); m != nil && strings.Contains(l, what) {
			return m[1]
		}
	}
	f.t.Fatalf("no rule with %q in %s:\n%s", what, chain, out)
	return ""
}

// TestRuleDeletedByHand: one endpoint's DNAT rule deleted with nft breaks
// the Service; the comparison names the missing rule, Repair (which the
// lab process calls every second) restores only that chain, traffic
// flows again, and the next check is a generation read that finds nothing.
func TestRuleDeletedByHand(t *testing.T) {
	f := newFixture(t)
	web := svc("web", service.TCP, "10.96.0.70", ep("p1"))
	other := svc("other", service.TCP, "10.96.0.71", ep("p2"))
	ports := []service.Port{web, other}
	if _, err := f.table.Sync(fixtureNode, ports); err != nil {
		t.Fatal(err)
	}
	if d, _, err := f.table.Repair(); err != nil || !d.Empty() {
		t.Fatalf("check right after a sync: %v %v", d.Lines(), err)
	}
	for range 3 {
		if _, err := f.tcp("c", "10.96.0.71:80", timeout); err != nil {
			t.Fatal(err)
		}
	}
	epChain := proxy.EndpointChain(proxy.PortID(web), web.Endpoints[0])
	f.nft("delete", "rule", "ip", "kinn", epChain, "handle", f.handle(epChain, "dnat to"))
	if _, err := f.tcp("c", "10.96.0.70:80", 300*time.Millisecond); err == nil {
		t.Fatal("the service still answers without its DNAT rule")
	}

	_, d, err := f.table.Inspect(proxy.Build(fixtureNode, ports))
	if err != nil {
		t.Fatal(err)
	}
	cd := d.Chain(epChain)
	if cd == nil || cd.State != proxy.Changed || len(d.Chains) != 1 || len(d.Maps) != 0 ||
		len(cd.Missing) != 1 || !strings.Contains(cd.Missing[0].String(), "dnat to 10.244.0.11:8080") || cd.Want != 2 || cd.Have != 1 {
		t.Fatalf("drift = %q, want only %s missing its dnat rule", d.Lines(), epChain)
	}
	before, _ := f.counters()

	d, full, err := f.table.Repair()
	if err != nil || full {
		t.Fatal(err)
	}
	if got := strings.Join(d.Lines(), "\n"); !strings.Contains(got, "chain "+epChain+" had 1 of 2 rules") {
		t.Fatalf("repair reported %q", got)
	}
	if _, err := f.tcp("c", "10.96.0.70:80", timeout); err != nil {
		t.Fatalf("the service fails after the repair: %v", err)
	}
	// Only the drifted chain was rewritten: the other Service's counter
	// carried on.
	after, _ := f.counters()
	if c := proxy.ClusterChain(proxy.PortID(other)); after[c].Packets < before[c].Packets || before[c].Packets < 3 {
		t.Fatalf("%s counted %d then %d: the repair reloaded the table", c, before[c].Packets, after[c].Packets)
	}
	if d, _, err := f.table.Repair(); err != nil || !d.Empty() {
		t.Fatalf("check after the repair: %v %v", d.Lines(), err)
	}
	if f.table.verified == 0 {
		t.Fatal("the repair left the table's generation unknown: every check would read the whole table")
	}
}

// TestDriftKinds: each kind of change by hand is found and undone.
func TestDriftKinds(t *testing.T) {
	f := newFixture(t)
	ports := everyShape()
	web, sticky := ports[0], ports[1]
	webID, stickyID := proxy.PortID(web), proxy.PortID(sticky)
	for _, c := range []struct {
		name   string
		break_ func()
		want   string // in the drift's lines
	}{
		{"element deleted", func() {
			f.nft("delete", "element", "ip", "kinn", proxy.MapServiceIPs, "{ 10.96.0.10 . tcp . 80 }")
		}, "map service-ips had 6 of 7 elements; missing: 10.96.0.10 . tcp . 80 : goto " + proxy.ClusterChain(webID)},
		{"element added", func() {
			f.nft("add", "element", "ip", "kinn", proxy.MapServiceIPs, "{ 10.96.9.9 . udp . 53 : goto "+proxy.ClusterChain(webID)+" }")
		}, "extra: 10.96.9.9 . udp . 53 : goto " + proxy.ClusterChain(webID)},
		{"verdict changed", func() {
			f.nft("delete", "element", "ip", "kinn", proxy.MapServiceIPs, "{ 10.96.0.10 . tcp . 80 }")
			f.nft("add", "element", "ip", "kinn", proxy.MapServiceIPs, "{ 10.96.0.10 . tcp . 80 : drop }")
		}, "extra: 10.96.0.10 . tcp . 80 : drop"},
		{"rule added", func() {
			f.nft("insert", "rule", "ip", "kinn", proxy.ClusterChain(webID), "counter", "drop")
		}, "chain " + proxy.ClusterChain(webID) + " had 1 rule kinn did not write; extra: handle"},
		{"chain flushed", func() {
			f.nft("flush", "chain", "ip", "kinn", proxy.ClusterChain(webID))
		}, "chain " + proxy.ClusterChain(webID) + " had 0 of 3 rules"},
		{"affinity rule and set deleted", func() {
			epc := proxy.EndpointChain(stickyID, sticky.Endpoints[0])
			f.nft("delete", "rule", "ip", "kinn", epc, "handle", f.handle(epc, "update @"))
			f.nft("delete", "rule", "ip", "kinn", proxy.ClusterChain(stickyID), "handle", f.handle(proxy.ClusterChain(stickyID), "@"+proxy.AffinitySet(stickyID, sticky.Endpoints[0])))
			f.nft("delete", "set", "ip", "kinn", proxy.AffinitySet(stickyID, sticky.Endpoints[0]))
		}, "map " + proxy.AffinitySet(stickyID, sticky.Endpoints[0]) + " missing"},
		{"chain added", func() {
			f.nft("add", "chain", "ip", "kinn", "mine")
			f.nft("add", "rule", "ip", "kinn", "mine", "counter")
		}, "chain mine is not kinn's (1 rule)"},
		{"base chain's priority changed", func() {
			f.nft("flush", "chain", "ip", "kinn", "filter-output")
			f.nft("delete", "chain", "ip", "kinn", "filter-output")
			f.nft("add", "chain", "ip", "kinn", "filter-output", "{ type filter hook output priority 0 ; }")
		}, `chain filter-output: "type filter hook output priority 0 policy accept", want "type filter hook output priority -10 policy accept"`},
		{"table deleted", func() { f.nft("delete", "table", "ip", "kinn") }, "table ip kinn missing"},
	} {
		if _, err := f.table.Sync(fixtureNode, ports); err != nil {
			t.Fatal(err)
		}
		c.break_()
		d, _, err := f.table.Repair()
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := strings.Join(d.Lines(), "\n"); !strings.Contains(got, c.want) {
			t.Errorf("%s: drift\n%s\nwant it to say %q", c.name, got, c.want)
		}
		if _, d, err := f.table.Inspect(proxy.Build(fixtureNode, ports)); err != nil || !d.Empty() {
			t.Errorf("%s: after the repair: %q %v", c.name, d.Lines(), err)
		}
		if _, err := f.tcp("c", "10.96.0.10:80", timeout); err != nil {
			t.Errorf("%s: web fails after the repair: %v", c.name, err)
		}
	}
}

// TestOthersCommitsAreNotDrift: a commit elsewhere in the namespace moves
// the generation; the comparison then finds nothing to repair in kinn's
// table and remembers the new generation.
func TestOthersCommitsAreNotDrift(t *testing.T) {
	f := newFixture(t)
	if _, err := f.table.Sync(fixtureNode, everyShape()); err != nil {
		t.Fatal(err)
	}
	before := f.table.verified
	f.nft("add", "table", "ip", "someone-else")
	d, _, err := f.table.Repair()
	if err != nil || !d.Empty() {
		t.Fatalf("drift %q %v after a commit to another table", d.Lines(), err)
	}
	if f.table.verified == before || f.table.verified == 0 {
		t.Fatalf("generation %d -> %d: the next check compares again", before, f.table.verified)
	}
}
