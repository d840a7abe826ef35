package nft

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"kinn.dev/kinn/lab/kernel"
	"kinn.dev/kinn/lab/kernel/kerneltest"
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
	if _, err := tr.Conns(context.Background(), f.node); err != nil { // subscribe before the flow starts
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
		conns, err := tr.Conns(context.Background(), f.node)
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

// TestTrackerStuckNamespace: a namespace whose subscription hangs in the
// kernel (here its path is a FIFO, whose open blocks until a writer comes)
// costs a caller no more than its context, and holds up neither the other
// namespaces nor Close. (The tracker's lock was held across the
// subscription: one stuck node hung every later call, and the terminal
// UI's rates and flows with them.)
func TestTrackerStuckNamespace(t *testing.T) {
	node := kerneltest.NewLab(t, "track").Netns("node")
	if _, err := kernel.CreateNetns(node); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kernel.DeleteNetns(node) })
	stuck := filepath.Join(t.TempDir(), "stuck")
	if err := unix.Mkfifo(stuck, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// A reader and writer at once: the blocked open returns.
		if w, err := os.OpenFile(stuck, os.O_RDWR, 0); err == nil {
			time.Sleep(100 * time.Millisecond)
			w.Close()
		}
	})
	tr := NewTracker()
	returns(t, "Conns of the stuck namespace", func() {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		if _, err := tr.Conns(ctx, stuck); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Conns of the stuck namespace: %v, want %v", err, context.DeadlineExceeded)
		}
	})
	returns(t, "Conns of another namespace", func() {
		if _, err := tr.Conns(context.Background(), node); err != nil {
			t.Error(err)
		}
	})
	returns(t, "Close", tr.Close)
}

// returns runs f and fails the test if it has not returned within 10 s.
func returns(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s hangs", what)
	}
}
