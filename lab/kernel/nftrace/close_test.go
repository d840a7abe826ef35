package nftrace

import (
	"os/exec"
	"testing"

	"golang.org/x/sys/unix"

	"kinn.dev/kinn/lab/kernel"
	"kinn.dev/kinn/lab/kernel/kerneltest"
	"kinn.dev/kinn/lab/kernel/nft"
)

// TestCloseReadsEverythingBefore: a marked datagram sent just before Close
// is among the events Close returns, however soon Close follows: the
// kernel queued its events as it was sent, and Close reads the socket to
// its end.
func TestCloseReadsEverythingBefore(t *testing.T) {
	kerneltest.RequireRoot(t)
	ns := kerneltest.NewLab(t, "nftclose").Netns("n")
	if _, err := kernel.CreateNetns(ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kernel.DeleteNetns(ns) })
	if out, err := exec.Command("ip", "-n", ns, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("lo up: %v: %s", err, out)
	}
	const dscp = 0x2d
	if err := nft.InstallTrace(ns, nft.TracePrefix+"closetest", dscp); err != nil {
		t.Fatal(err)
	}
	for round := range 50 {
		l, err := Listen(ns)
		if err != nil {
			t.Fatal(err)
		}
		port := 40000 + round
		err = kernel.Do(ns, func() error {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
			if err != nil {
				return err
			}
			defer unix.Close(fd)
			unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TOS, dscp<<2)
			return unix.Sendto(fd, []byte("x"), 0, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 2}, Port: port})
		})
		if err != nil {
			t.Fatal(err)
		}
		evs, notes, err := l.Close()
		if err != nil || len(notes) > 0 {
			t.Fatalf("close: %v %v", err, notes)
		}
		found := false
		for _, ev := range evs {
			if ev.Packet.HasHeaders && ev.Packet.DPort == uint16(port) {
				found = true
			}
		}
		if !found {
			t.Fatalf("round %d: the datagram sent before Close is missing from %d events", round, len(evs))
		}
	}
}
