package dropwatch

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"kinn.dev/kinn/lab/kernel"
	"kinn.dev/kinn/lab/kernel/kerneltest"
)

const marker = 0x5c // TOS byte: DSCP 23, which the lab never uses

func TestLayoutFromKernelBTF(t *testing.T) {
	l, err := loadLayout()
	if errors.Is(err, ErrUnsupported) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"NO_SOCKET", "NETFILTER_DROP", "IP_INNOROUTES", "IP_OUTNOROUTES", "NEIGH_FAILED"} {
		found := false
		for _, name := range l.reasons {
			found = found || name == want
		}
		if !found {
			t.Errorf("drop reason %s not read from BTF", want)
		}
	}
	if l.skbDev == 0 || l.skbHead == 0 || l.netInum == 0 || l.devNet == 0 {
		t.Errorf("offsets not found: %+v", l)
	}
}

func TestFilterNeedsACriterion(t *testing.T) {
	if _, err := (Filter{}).encode(); err == nil {
		t.Error("an empty filter would report every drop on the host")
	}
	if _, err := (Filter{Dst: netip.MustParseAddr("fd00::1")}).encode(); err == nil {
		t.Error("an IPv6 address was accepted")
	}
}

// TestDropReasons sends a marked and an unmarked datagram to a closed port
// and a marked one into an nft drop rule, in a namespace of its own, and
// checks the kernel's reasons for the marked ones only.
func TestDropReasons(t *testing.T) {
	kerneltest.RequireRoot(t)
	ns := newNetns(t)
	start := time.Now()
	w, err := Start(context.Background(), Filter{TOS: marker, TOSMask: 0xfc})
	if errors.Is(err, ErrUnsupported) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("attach: %v", time.Since(start))
	defer w.Close()

	send(t, ns, 0, 40001)      // unmarked: not reported
	send(t, ns, marker, 40002) // NO_SOCKET
	d := next(t, w, ns)
	if d.Reason != "NO_SOCKET" || d.DstPort != 40002 || d.Proto != unix.IPPROTO_UDP {
		t.Fatalf("got %v, want NO_SOCKET for UDP to port 40002 (the unmarked 40001 must not appear)", d)
	}
	if d.Netns != kernel.NetnsID(ns) || d.Ifindex != 1 {
		t.Errorf("got netns %d if %d, want %d (%s) if 1 (lo)", d.Netns, d.Ifindex, kernel.NetnsID(ns), ns)
	}
	if d.Symbol == "" || time.Since(d.Time).Abs() > time.Minute {
		t.Errorf("no location symbol or a wrong time: %+v", d)
	}
	t.Logf("%v", d)

	rules := "table ip kinndw {\n chain in {\n type filter hook input priority 0; udp dport 40003 drop\n }\n" +
		" chain out {\n type filter hook output priority 0; udp dport 40004 drop\n }\n}\n"
	if err := kernel.Do(ns, func() error {
		cmd := exec.Command("nft", "-f", "-")
		cmd.Stdin = strings.NewReader(rules)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("nft: %v: %s", err, out)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	send(t, ns, marker, 40003)
	if d := next(t, w, ns); d.Reason != "NETFILTER_DROP" || d.DstPort != 40003 {
		t.Fatalf("got %v, want NETFILTER_DROP for port 40003", d)
	}
	// In OUTPUT the packet has no device yet: the namespace is the socket's.
	send(t, ns, marker, 40004)
	if d := next(t, w, ns); d.Reason != "NETFILTER_DROP" || d.DstPort != 40004 || d.Netns != kernel.NetnsID(ns) {
		t.Fatalf("got %v, want NETFILTER_DROP for port 40004 in netns %d", d, kernel.NetnsID(ns))
	}
}

// TestCloseLeavesNothing checks that the program and its link are gone
// after Close (and after the context ends).
func TestCloseLeavesNothing(t *testing.T) {
	kerneltest.RequireRoot(t)
	ctx, cancel := context.WithCancel(context.Background())
	w, err := Start(ctx, Filter{Proto: unix.IPPROTO_UDP, DstPort: 9})
	if errors.Is(err, ErrUnsupported) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	progID, linkID := ids(t, w)
	ns := newNetns(t)
	send(t, ns, 0, 9) // caught by protocol and port alone
	if d := next(t, w, ns); d.DstPort != 9 || d.Reason != "NO_SOCKET" {
		t.Fatalf("got %v, want NO_SOCKET for port 9", d)
	}
	start := time.Now()
	cancel()
	for range w.Events() { // closed once Close is done
	}
	t.Logf("detach: %v", time.Since(start))
	if p, err := ebpf.NewProgramFromID(progID); err == nil {
		p.Close()
		t.Errorf("program %d still loaded", progID)
	}

	if l, err := link.NewFromID(linkID); err == nil {
		l.Close()
		t.Errorf("link %d still attached", linkID)
	}
	// Its own program and link by ID: a count of programs by name would
	// see another suite's running at the same time.
	w.Close() // twice is fine
}

func BenchmarkStartClose(b *testing.B) {
	kerneltest.RequireRoot(b)
	kernelSymbols() // once per process, not per watch
	for b.Loop() {
		w, err := Start(context.Background(), Filter{TOS: marker, TOSMask: 0xfc})
		if err != nil {
			b.Fatal(err)
		}
		w.Close()
	}
}

func newNetns(t *testing.T) string {
	name := kerneltest.UniqueName("kinndw")
	if _, err := kernel.CreateNetns(name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kernel.DeleteNetns(name) })
	err := kernel.Do(name, func() error {
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		return netlink.LinkSetUp(lo)
	})
	if err != nil {
		t.Fatal(err)
	}
	return name
}

// send sends one UDP datagram (or has it dropped on the way out) with the given TOS to 127.0.0.1:port in ns.
func send(t *testing.T, ns string, tos, port int) {
	t.Helper()
	err := kernel.Do(ns, func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TOS, tos); err != nil {
			return err
		}
		err = unix.Sendto(fd, []byte("kinn"), 0, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}})
		if errors.Is(err, unix.EPERM) {
			return nil // dropped in OUTPUT: the sender hears of it
		}
		return err
	})
	if err != nil {
		t.Fatalf("send to port %d: %v", port, err)
	}
}

// next is the next drop in the test's own namespace ns: the filter is
// host-wide, and another suite running at once may drop marked packets of
// its own.
func next(t *testing.T, w *Watch, ns string) Drop {
	t.Helper()
	want := kernel.NetnsID(ns)
	timeout := time.After(5 * time.Second)
	for {
		select {
		case d := <-w.Events():
			if d.Netns == want {
				return d
			}
		case <-timeout:
			t.Fatal("no drop reported in 5 s")
			return Drop{}
		}
	}
}

func ids(t *testing.T, w *Watch) (ebpf.ProgramID, link.ID) {
	pi, err := w.prog.Info()
	if err != nil {
		t.Fatal(err)
	}
	li, err := w.link.Info()
	if err != nil {
		t.Fatal(err)
	}
	id, _ := pi.ID()
	return id, li.ID
}
