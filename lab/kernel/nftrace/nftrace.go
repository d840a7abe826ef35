// Package nftrace listens to nf_tables' trace events (NFT_MSG_TRACE on the
// NFNLGRP_NFTRACE multicast group) in one network namespace, for kinn
// trace. The socket is opened inside the namespace (the netlink library
// enters it on a locked thread for the socket call alone), so it hears that
// namespace's events only and can be read from any goroutine.
package nftrace

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"kinn.dev/kinn/lab/kernel"
	"kinn.dev/kinn/lab/trace"
)

// Netlink numbers from linux/netfilter/nf_tables.h and nfnetlink.h.
const (
	groupNFTrace = 9                                 // NFNLGRP_NFTRACE
	msgTrace     = unix.NFNL_SUBSYS_NFTABLES<<8 | 17 // NFT_MSG_TRACE

	attrTable     = 1
	attrChain     = 2
	attrHandle    = 3
	attrType      = 4
	attrVerdict   = 5
	attrID        = 6
	attrLink      = 7
	attrNetwork   = 8
	attrTransport = 9
	attrIIF       = 10
	attrOIF       = 12
	attrPolicy    = 16

	verdictCode  = 1
	verdictChain = 2
)

// Listener collects one namespace's trace events until Close.
type Listener struct {
	netns string
	conn  *netlink.Conn
	mu    sync.Mutex
	evs   []trace.Event
	err   error
	done  chan struct{}
	// closing is set by Close: the read it interrupts fails, and that
	// failure is not the trace's.
	closing bool
	// notes say what was not heard: undecodable events, events the
	// kernel could not queue (the socket overflowed).
	notes []string
}

// Listen starts listening in the named namespace. Events are collected from
// the moment it returns.
func Listen(netnsName string) (*Listener, error) {
	ns, err := os.Open(kernel.NetnsPath(netnsName))
	if err != nil {
		return nil, fmt.Errorf("open namespace %s: %w", netnsName, err)
	}
	defer ns.Close() // the socket keeps its namespace
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: int(ns.Fd())})
	if err != nil {
		return nil, fmt.Errorf("netfilter netlink in %s: %w", netnsName, err)
	}
	if err := c.JoinGroup(groupNFTrace); err != nil {
		c.Close()
		return nil, fmt.Errorf("join nftrace group in %s: %w", netnsName, err)
	}
	// A burst of events must not overflow the socket (ENOBUFS loses them).
	_ = c.SetReadBuffer(4 << 20)
	l := &Listener{netns: netnsName, conn: c, done: make(chan struct{})}
	go l.run()
	return l, nil
}

func (l *Listener) run() {
	defer close(l.done)
	for {
		msgs, err := l.conn.Receive()
		if errors.Is(err, unix.ENOBUFS) {
			l.lost()
			continue
		}
		if err != nil {
			l.mu.Lock()
			if !l.closing {
				l.err = fmt.Errorf("trace events in %s: %w", l.netns, err)
			}
			l.mu.Unlock()
			return
		}
		for _, m := range msgs {
			l.add(uint16(m.Header.Type), m.Data)
		}
	}
}

// lost notes that the kernel dropped events it could not queue: the story
// has a gap, which the trace must say; the socket goes on.
func (l *Listener) lost() {
	l.note("some trace events in " + l.netns + " were lost (the socket's buffer overflowed)")
}

// add keeps one message's event.
func (l *Listener) add(typ uint16, data []byte) {
	if typ != msgTrace {
		return
	}
	ev, err := decode(data)
	if err != nil {
		// One unreadable event: the others still tell the story, but
		// not the whole of it.
		l.note(fmt.Sprintf("a trace event in %s could not be read: %v", l.netns, err))
		return
	}
	l.mu.Lock()
	ev.Netns, ev.Seq, ev.At = l.netns, len(l.evs), time.Now()
	l.evs = append(l.evs, ev)
	l.mu.Unlock()
}

func (l *Listener) note(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !slices.Contains(l.notes, s) {
		l.notes = append(l.notes, s)
	}
}

// Netns is the namespace listened in.
func (l *Listener) Netns() string { return l.netns }

// Close stops listening and returns what was heard, and notes on what was
// not. Every event the kernel queued before the call is read: the kernel
// queues a namespace's events on the socket as the packet goes (the
// multicast is synchronous), so once the prober has its answer, or its
// timeout, the events of everything before are there; Close stops the
// reader, then reads the socket without waiting until it is empty.
func (l *Listener) Close() ([]trace.Event, []string, error) {
	l.mu.Lock()
	l.closing = true
	l.mu.Unlock()
	// A deadline in the past wakes the reader's blocked Receive (which
	// consumes nothing then); it exits on seeing closing. Should that
	// fail, closing the socket stops it, and what was queued is lost.
	var derr error
	if err := l.conn.SetReadDeadline(time.Unix(1, 0)); err != nil {
		l.conn.Close()
		l.note("the trace events still queued in " + l.netns + " could not be read: " + err.Error())
		<-l.done
	} else {
		<-l.done
		derr = l.drain()
	}
	l.conn.Close()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.evs, l.notes, errors.Join(l.err, derr)
}

// drainMax bounds the reads of drain: a probe's events are a few hundred.
const drainMax = 1 << 16

// drain reads what is left on the socket, without waiting (MSG_DONTWAIT on
// the descriptor itself: Go's poller would not read past the deadline).
func (l *Listener) drain() error {
	rc, err := l.conn.SyscallConn()
	if err != nil {
		return fmt.Errorf("trace events in %s: %w", l.netns, err)
	}
	buf := make([]byte, 1<<16)
	for reads := 0; ; reads++ {
		if reads == drainMax {
			// Traced packets keep coming (a live connection that goes
			// on): what is left is after the story's end.
			l.note("trace events in " + l.netns + " kept coming: those after the first " + fmt.Sprint(drainMax) + " at the end were left unread")
			return nil
		}
		var n int
		var rerr error
		if err := rc.Control(func(fd uintptr) { n, _, rerr = unix.Recvfrom(int(fd), buf, unix.MSG_DONTWAIT) }); err != nil {
			return fmt.Errorf("trace events in %s: %w", l.netns, err)
		}
		switch {
		case errors.Is(rerr, unix.EAGAIN):
			return nil
		case errors.Is(rerr, unix.ENOBUFS):
			l.lost()
			continue
		case rerr != nil:
			return fmt.Errorf("trace events in %s: %w", l.netns, rerr)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			l.note(fmt.Sprintf("trace events in %s could not be read: %v", l.netns, err))
			continue
		}
		for _, m := range msgs {
			l.add(m.Header.Type, m.Data)
		}
	}
}

// decode reads one trace message: a nfgenmsg header, then attributes.
func decode(b []byte) (trace.Event, error) {
	ev := trace.Event{Verdict: trace.VerdictContinue, Policy: trace.VerdictContinue}
	if len(b) < 4 {
		return ev, errors.New("short trace message")
	}
	ad, err := netlink.NewAttributeDecoder(b[4:])
	if err != nil {
		return ev, err
	}
	ad.ByteOrder = binary.BigEndian
	var link, network, transport []byte
	for ad.Next() {
		switch ad.Type() {
		case attrTable:
			ev.Table = ad.String()
		case attrChain:
			ev.Chain = ad.String()
		case attrHandle:
			ev.Handle = ad.Uint64()
		case attrType:
			ev.Type = trace.EventType(ad.Uint32())
		case attrID:
			ev.ID = ad.Uint32()
		case attrIIF:
			ev.IIF = ad.Uint32()
		case attrOIF:
			ev.OIF = ad.Uint32()
		case attrPolicy:
			ev.Policy = trace.Verdict(int32(ad.Uint32()))
		case attrLink:
			link = ad.Bytes()
		case attrNetwork:
			network = ad.Bytes()
		case attrTransport:
			transport = ad.Bytes()
		case attrVerdict:
			ad.Nested(func(nd *netlink.AttributeDecoder) error {
				nd.ByteOrder = binary.BigEndian
				for nd.Next() {
					switch nd.Type() {
					case verdictCode:
						ev.Verdict = trace.Verdict(int32(nd.Uint32()))
					case verdictChain:
						ev.Target = nd.String()
					}
				}
				return nil
			})
		}
	}
	ev.Packet = trace.ParsePacket(network, transport)
	if len(link) >= 6 {
		ev.Packet.DstMAC = net.HardwareAddr(link[:6]).String()
	}
	return ev, ad.Err()
}
