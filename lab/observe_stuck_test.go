package lab

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"kinn.dev/kinn/lab/kernel"
	"kinn.dev/kinn/lab/kernel/kerneltest"
	"kinn.dev/kinn/lab/plan"
	"kinn.dev/kinn/topology"
)

// TestLiveReadsStuckNode: the live view's reads of a node the kernel does
// not answer (here its namespace path is a FIFO, whose open blocks until a
// writer comes) end with the caller's context, as an error for that node,
// and the other nodes are read; round after round, without piling up
// goroutines. (They waited for the kernel for good: TestLiveSource hung for
// 11 minutes in the terminal UI's Rates.)
func TestLiveReadsStuckNode(t *testing.T) {
	l := kerneltest.NewLab(t, "stuck")
	good := l.Netns("node.good")
	if _, err := kernel.CreateNetns(good); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kernel.DeleteNetns(good) })
	stuck := filepath.Join(l.RunDir, "stuck")
	if err := unix.Mkfifo(stuck, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// A reader and writer at once: the blocked opens return.
		if w, err := os.OpenFile(stuck, os.O_RDWR, 0); err == nil {
			time.Sleep(100 * time.Millisecond)
			w.Close()
		}
	})
	st := &State{
		Topology: &topology.Lab{Networking: topology.Networking{Overlay: topology.OverlayVXLAN, VXLANPort: 4789}},
		Plan: &plan.Lab{Nodes: []plan.Node{
			{Name: "good", Netns: good, Underlay: netip.MustParsePrefix("172.18.0.2/16")},
			{Name: "stuck", Netns: stuck, Underlay: netip.MustParsePrefix("172.18.0.3/16")},
		}},
	}
	ct := NewConnTracker()
	defer ct.Close()
	warm, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := ct.t.Conns(warm, good); err != nil {
		t.Fatal(err)
	}
	reads := map[string]func(context.Context) []error{
		"LinkSamples":   func(ctx context.Context) []error { _, errs := st.LinkSamples(ctx); return errs },
		"TunnelSamples": func(ctx context.Context) []error { _, errs := st.TunnelSamples(ctx, ct); return errs },
		"Connections":   func(ctx context.Context) []error { _, errs := st.Connections(ctx, ct); return errs },
	}
	var after1 int
	for round := range 3 {
		for name, read := range reads {
			done := make(chan []error, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
				defer cancel()
				done <- read(ctx)
			}()
			select {
			case errs := <-done:
				if len(errs) != 1 || !errors.Is(errs[0], context.DeadlineExceeded) || !strings.Contains(errs[0].Error(), "node stuck") {
					t.Errorf("round %d: %s: errors %v, want one, node stuck's deadline", round, name, errs)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("round %d: %s hangs", round, name)
			}
		}
		if round == 0 {
			after1 = goruntime.NumGoroutine()
		}
	}
	if n := goruntime.NumGoroutine(); n > after1+2 {
		t.Errorf("%d goroutines after the first round, %d after the third: reads of the stuck node pile up", after1, n)
	}
}
