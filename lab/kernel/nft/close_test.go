package nft

import (
	"errors"
	"net/netip"
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"kinn.dev/kinn/lab/kernel"
	"kinn.dev/kinn/lab/kernel/kerneltest"
	"kinn.dev/kinn/lab/proxy"
)

// TestClosedTableTouchesNoNamespace: a Table used after Close says so. It
// must not reach the kernel: the nftables library, its lasting socket gone,
// dials a new one in whatever namespace the closed descriptor's number
// names by then — EBADF while it names nothing (the lab process's "setns:
// bad file descriptor"), the host's own namespace when the dial's own
// handle of the current namespace gets that number, another node's once
// a namespace file does.
func TestClosedTableTouchesNoNamespace(t *testing.T) {
	l := kerneltest.NewLab(t, "nftclose")
	a, b := l.Netns("a"), l.Netns("b")
	for _, ns := range []string{a, b} {
		if _, err := kernel.CreateNetns(ns); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { kernel.DeleteNetns(ns) })
	}
	tb, err := Open(b)
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Close()
	if err := tb.Load(proxy.Build(proxy.Node{Name: "b", IPs: []netip.Addr{netip.MustParseAddr("192.0.2.1")}}, nil)); err != nil {
		t.Fatal(err)
	}

	ta, err := Open(a)
	if err != nil {
		t.Fatal(err)
	}
	fd := int(ta.ns.Fd())
	if err := ta.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := ta.Exists(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Exists after Close: %v, want %v", err, os.ErrClosed)
	}
	// The closed descriptor's number now names b's namespace, as the next
	// file the process opens would.
	fb, err := os.Open(kernel.NetnsPath(b))
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()
	if int(fb.Fd()) != fd {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil {
			t.Skipf("descriptor %d was reused meanwhile", fd)
		}
		if err := unix.Dup2(int(fb.Fd()), fd); err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
	}
	ok, err := ta.Exists()
	if ok || !errors.Is(err, os.ErrClosed) {
		t.Errorf("Exists after Close, with the descriptor reused for another namespace: %v, %v; want false, %v", ok, err, os.ErrClosed)
	}
	if _, _, err := ta.Inspect(proxy.Build(proxy.Node{Name: "n"}, nil)); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Inspect after Close: %v, want %v", err, os.ErrClosed)
	}
	if _, _, err := ta.Repair(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Repair after Close: %v, want %v", err, os.ErrClosed)
	}
	if err := ta.Delete(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Delete after Close: %v, want %v", err, os.ErrClosed)
	}
	if ok, err := tb.Exists(); !ok || err != nil {
		t.Errorf("b's table after a's closed table was used: exists %v, %v", ok, err)
	}
	if err := ta.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
