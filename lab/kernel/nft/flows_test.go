package nft

import (
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"kinn.dev/kinn/lab/kernel"
)

// TestTrackerCountsBytes: a long-lived connection's byte count grows in the
// tracker's copy although conntrack's UPDATE events carry no counters.
func TestTrackerCountsBytes(t *testing.T) {
	f := newFixture(t)
	f.load() // kinn's table: conntrack now tracks the node's traffic
	f.sysctl("node", "net.netfilter.nf_conntrack_acct", "1")
	var ln net.Listener
	if err := kernel.Do(f.ns("p1"), func() (err error) { ln, err = net.Listen("tcp4", ":9000"); return err }); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			io.Copy(io.Discard, c)
			c.Close()
		}
	}()
	tr := NewTracker()
	defer tr.Close()
	if _, err := tr.Conns(f.node); err != nil { // subscribe before the flow starts
		t.Fatal(err)
	}
	var c net.Conn
	if err := kernel.Do(f.ns("ext"), func() (err error) { c, err = net.Dial("tcp4", pods["p1"]+":9000"); return err }); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(make([]byte, 300_000))
	dest := netip.MustParseAddrPort(pods["p1"] + ":9000")
	deadline := time.Now().Add(3 * refreshEvery)
	for {
		conns, err := tr.Conns(f.node)
		if err != nil {
			t.Fatal(err)
		}
		for _, cn := range conns {
			if cn.Dest == dest && cn.Bytes >= 300_000 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no flow to %s with its 300,000 bytes counted: %+v", dest, conns)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
