package nft

import (
	"errors"
	"net"
	"net/netip"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"kinn.dev/kinn/lab/proxy"
	"kinn.dev/kinn/lab/service"
)

const timeout = 2 * time.Second

// spread asks n times and counts answers per pod; every answer must show
// wantClient as the client's address.
func spread(t *testing.T, n int, ask func() (answer, error), wantClient string) map[string]int {
	t.Helper()
	seen := map[string]int{}
	for range n {
		a, err := ask()
		if err != nil {
			t.Fatal(err)
		}
		if a.client != wantClient {
			t.Fatalf("server %s saw client %s, want %s", a.pod, a.client, wantClient)
		}
		seen[a.pod]++
	}
	return seen
}

func TestClusterIPSpreadsAndKeepsClientIP(t *testing.T) {
	f := newFixture(t)
	f.load(
		svc("web", service.TCP, "10.96.0.10", ep("p1"), ep("p2"), ep("p3")),
		svc("dns", service.UDP, "10.96.0.10", ep("p1"), ep("p2"), ep("p3")),
	)
	tcp := spread(t, 30, func() (answer, error) { return f.tcp("c", "10.96.0.10:80", timeout) }, pods["c"])
	udp := spread(t, 30, func() (answer, error) { return f.udp("c", "10.96.0.10:80", 0, timeout) }, pods["c"])
	if len(tcp) < 2 || len(udp) < 2 {
		t.Fatalf("answers not spread: tcp %v, udp %v", tcp, udp)
	}
	t.Logf("tcp %v, udp %v", tcp, udp)
	ctr, err := f.counters()
	if err != nil {
		t.Fatal(err)
	}
	if c := ctr["svc-default/web/80/tcp"]; c.Packets < 30 {
		t.Fatalf("svc chain counted %d packets, want >= 30 new connections", c.Packets)
	}
}

func TestHairpin(t *testing.T) {
	f := newFixture(t)
	f.load(svc("web", service.TCP, "10.96.0.10", ep("p1"), ep("p2")))
	for range 40 {
		a, err := f.tcp("p1", "10.96.0.10:80", timeout)
		if err != nil {
			t.Fatal(err)
		}
		if a.pod == "p1" {
			// Masqueraded, or p1 would answer itself directly and the
			// reply would not match the connection.
			if a.client != bridgeIP {
				t.Fatalf("hairpin client seen as %s, want the bridge address %s", a.client, bridgeIP)
			}
			return
		}
	}
	t.Fatal("p1 never reached itself through its service")
}

func TestNoEndpointsRefusedAtOnce(t *testing.T) {
	f := newFixture(t)
	f.load(svc("empty", service.TCP, "10.96.0.20"), svc("empty", service.UDP, "10.96.0.20"))
	start := time.Now()
	_, err := f.tcp("c", "10.96.0.20:80", timeout)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("got %v, want connection refused", err)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Fatalf("refused after %v, want < 100ms", d)
	}
	// UDP: ICMP port unreachable makes the next read fail with ECONNREFUSED.
	if _, err := f.udp("c", "10.96.0.20:80", 0, timeout); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("udp: got %v, want connection refused", err)
	}
}

func TestAffinityKeepsOneBackend(t *testing.T) {
	f := newFixture(t)
	p := svc("sticky", service.TCP, "10.96.0.30", ep("p1"), ep("p2"), ep("p3"))
	p.Affinity = time.Hour
	f.load(p)
	seen := spread(t, 16, func() (answer, error) { return f.tcp("c", "10.96.0.30:80", timeout) }, pods["c"])
	if len(seen) != 1 {
		t.Fatalf("affinity broken: %v", seen)
	}
}

func TestNodePort(t *testing.T) {
	f := newFixture(t)
	cluster := svc("np", service.TCP, "10.96.0.40", ep("p1"), ep("p2"))
	cluster.NodePort = 30040
	local := svc("local", service.TCP, "10.96.0.41", ep("p3"), ep("10.244.1.7", "n2"))
	local.NodePort, local.ExternalLocal = 30041, true
	remote := svc("remote", service.TCP, "10.96.0.42", ep("10.244.1.8", "n2"))
	remote.NodePort, remote.ExternalLocal = 30042, true
	f.load(cluster, local, remote)

	// Cluster policy: masqueraded to the node's address toward the pod.
	spread(t, 5, func() (answer, error) { return f.tcp("ext", nodeIP+":30040", timeout) }, bridgeIP)
	// Local policy: only the local endpoint, the client's address kept.
	seen := spread(t, 10, func() (answer, error) { return f.tcp("ext", nodeIP+":30041", timeout) }, extIP)
	if len(seen) != 1 || seen["p3"] != 10 {
		t.Fatalf("local policy used %v, want only p3", seen)
	}
	// Local policy, no endpoint here: dropped (a timeout, not a refusal).
	_, err := f.tcp("ext", nodeIP+":30042", 300*time.Millisecond)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("got %v, want a timeout (drop)", err)
	}
}

func TestInternalLocalDropsWithoutLocalEndpoint(t *testing.T) {
	f := newFixture(t)
	p := svc("itp", service.TCP, "10.96.0.50", ep("10.244.1.9", "n2"))
	p.InternalLocal = true
	f.load(p)
	_, err := f.tcp("c", "10.96.0.50:80", 300*time.Millisecond)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("got %v, want a timeout (drop)", err)
	}
}

func TestIncrementalUpdate(t *testing.T) {
	f := newFixture(t)
	a := svc("a", service.TCP, "10.96.0.60", ep("p1"))
	b := svc("b", service.TCP, "10.96.0.61", ep("p1"), ep("p2"))
	node := proxy.Node{Name: nodeName}
	old := f.load(a, b)
	for range 5 {
		if _, err := f.tcp("c", "10.96.0.60:80", timeout); err != nil {
			t.Fatal(err)
		}
	}
	before, err := f.counters()
	if err != nil {
		t.Fatal(err)
	}
	// b loses p1 (no longer ready) and gains p3.
	b.Endpoints = []service.Endpoint{ep("p2"), ep("p3")}
	b.Endpoints[0].Ready = true
	unready := ep("p1")
	unready.Ready = false
	b.Endpoints = append(b.Endpoints, unready)
	next := proxy.Build(node, []service.Port{a, b})
	ops := proxy.Diff(old, next)
	for _, op := range ops {
		name := ""
		if op.Chain != nil {
			name = op.Chain.Name
		} else {
			name = op.Map.Name
		}
		if name == "service-ips" || name == "svc-default/a/80/tcp" {
			t.Errorf("op %s touches an unchanged service", op)
		}
	}
	if err := f.table.Apply(ops); err != nil {
		t.Fatal(err)
	}
	seen := spread(t, 20, func() (answer, error) { return f.tcp("c", "10.96.0.61:80", timeout) }, pods["c"])
	if seen["p1"] > 0 || seen["p2"] == 0 || seen["p3"] == 0 {
		t.Fatalf("after the update b answered from %v, want p2 and p3", seen)
	}
	after, err := f.counters()
	if err != nil {
		t.Fatal(err)
	}
	// The table was not reloaded: the untouched chain kept its count.
	if c := "svc-default/a/80/tcp"; after[c].Packets != before[c].Packets || before[c].Packets == 0 {
		t.Fatalf("%s counter %d -> %d: table reloaded?", c, before[c].Packets, after[c].Packets)
	}
	t.Logf("%d ops: %v", len(ops), ops)
}

func TestDeletedByHand(t *testing.T) {
	f := newFixture(t)
	web := svc("web", service.TCP, "10.96.0.70", ep("p1"))
	node := proxy.Node{Name: nodeName, IPs: []netip.Addr{netip.MustParseAddr(nodeIP)}}
	if full, err := f.table.Sync(node, []service.Port{web}); err != nil || !full {
		t.Fatalf("first sync: full=%v err=%v, want a full load", full, err)
	}
	if full, err := f.table.Sync(node, []service.Port{web}); err != nil || full {
		t.Fatalf("sync without changes: full=%v err=%v, want nothing done", full, err)
	}
	if ok, err := f.table.Exists(); err != nil || !ok {
		t.Fatalf("exists after load: %v %v", ok, err)
	}
	f.nft("delete", "table", "ip", "kinn")
	if ok, err := f.table.Exists(); err != nil || ok {
		t.Fatalf("exists after a manual delete: %v %v", ok, err)
	}
	if _, err := f.tcp("c", "10.96.0.70:80", 300*time.Millisecond); err == nil {
		t.Fatal("service answered without a table")
	}
	full, err := f.table.Sync(node, []service.Port{web})
	if err != nil || !full {
		t.Fatalf("sync after delete: full=%v err=%v, want a full reload", full, err)
	}
	if _, err := f.tcp("c", "10.96.0.70:80", timeout); err != nil {
		t.Fatal(err)
	}
	if err := f.table.Delete(); err != nil {
		t.Fatal(err)
	}
	if ok, _ := f.table.Exists(); ok {
		t.Fatal("table still there after Delete")
	}
}

func TestFlushStaleUDP(t *testing.T) {
	f := newFixture(t)
	vip := "10.96.0.80"
	p := svc("udp", service.UDP, vip, ep("p1"))
	old := f.load(p)
	ask := func() string {
		a, err := f.udp("c", vip+":80", 40000, timeout)
		if err != nil {
			t.Fatal(err)
		}
		return a.pod
	}
	if got := ask(); got != "p1" {
		t.Fatalf("first answer from %s", got)
	}
	// p1 stops serving, p2 takes over.
	gone := ep("p1")
	gone.Ready, gone.Serving = false, false
	p.Endpoints = []service.Endpoint{gone, ep("p2")}
	if err := f.table.Apply(proxy.Diff(old, proxy.Build(proxy.Node{Name: nodeName}, []service.Port{p}))); err != nil {
		t.Fatal(err)
	}
	if got := ask(); got != "p1" {
		t.Fatalf("before the flush the conntrack entry should still lead to p1, got %s", got)
	}
	if err := FlushStaleUDP(f.node, netip.MustParseAddr(vip), 80, []netip.Addr{netip.MustParseAddr(pods["p1"])}); err != nil {
		t.Fatal(err)
	}
	if got := ask(); got != "p2" {
		t.Fatalf("after the flush got %s, want p2", got)
	}
}

// TestNftParses checks that the nft tool reads back what kinn wrote.
func TestNftParses(t *testing.T) {
	f := newFixture(t)
	p := svc("web", service.TCP, "10.96.0.90", ep("p1"))
	p.Affinity = time.Minute
	f.load(p)
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("no nft binary")
	}
	t.Log(f.nft("list", "table", "ip", "kinn"))
}
