package nftrace

import (
	"fmt"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"kinn.dev/kinn/lab/kernel"
	"kinn.dev/kinn/lab/trace"
)

// Knowing that every event of the probe has been read: the kernel queues a
// namespace's trace events on the listener's socket in the order they
// happen, so an event caused after the probe's last one is read after it.
// Sync causes one: a datagram with the probe's marker, from a socket in the
// namespace to itself on loopback (so nothing answers it, nothing drops
// it, and no other namespace sees it). The listener leaves its events out.

var loopback = netip.AddrFrom4([4]byte{127, 0, 0, 1})

// syncState is a listener's sentinel: the port it is sent to, and the
// trace ids the kernel gave its events.
type syncState struct {
	mu   sync.Mutex
	port uint16
	ids  map[uint32]bool
	seen chan struct{}
}

func newSyncState() syncState {
	return syncState{ids: map[uint32]bool{}, seen: make(chan struct{})}
}

// isSentinel reports whether the event is the sentinel's (and, the first
// time, that everything before it was read).
func (s *syncState) isSentinel(ev trace.Event) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ids[ev.ID] && !ev.Packet.HasHeaders {
		return true
	}
	p := ev.Packet
	if s.port == 0 || !p.HasHeaders || p.Proto != 17 || p.Dst != loopback || p.DPort != s.port {
		return false
	}
	if len(s.ids) == 0 {
		close(s.seen)
	}
	s.ids[ev.ID] = true
	return true
}

// Sync returns once every event the kernel sent before the call has been
// read, or an error after timeout (the caller must then say the story may
// miss its end). It may be called once per listener.
func (l *Listener) Sync(dscp uint8, timeout time.Duration) error {
	var fd int
	err := kernel.Do(l.netns, func() error {
		var err error
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		to := &unix.SockaddrInet4{Addr: loopback.As4()}
		if err := unix.Bind(fd, to); err != nil {
			return err
		}
		sa, err := unix.Getsockname(fd)
		if err != nil {
			return err
		}
		to.Port = sa.(*unix.SockaddrInet4).Port
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TOS, int(dscp)<<2); err != nil {
			return err
		}
		l.sync.mu.Lock()
		l.sync.port = uint16(to.Port)
		l.sync.mu.Unlock()
		return unix.Sendto(fd, []byte("kinn-trace-sync"), 0, to)
	})
	if fd > 0 {
		defer unix.Close(fd)
	}
	if err != nil {
		return fmt.Errorf("sync the trace events of %s: %w", l.netns, err)
	}
	select {
	case <-l.sync.seen:
		return nil
	case <-l.done:
		return fmt.Errorf("sync the trace events of %s: the listener stopped", l.netns)
	case <-time.After(timeout):
		return fmt.Errorf("sync the trace events of %s: no sign of the sentinel within %s", l.netns, timeout)
	}
}
