// Package probe sends test traffic from inside a lab's namespaces: ICMP
// echoes, TCP connects, HTTP requests and UDP exchanges, for `kinn check`
// and the terminal UI. Each socket is created on a thread inside the source
// namespace (through Enter) and lives there; the traffic is real.
package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// Enter runs f on a thread inside the named network namespace.
type Enter func(netns string, f func() error) error

// Prober sends traffic from one namespace.
type Prober struct {
	Enter   Enter
	Netns   string
	Timeout time.Duration
	// Pace, when set, is called before each ICMP echo is sent. The kernel
	// answers echoes within a machine-wide budget (icmp_msgs_per_sec, 1,000
	// a second, burst 50, measured here to hold across namespaces), so a
	// lab-wide pingall must share one pace or lose replies to it.
	Pace func()
}

// Outcome classifies an attempt the way a learner reads it.
type Outcome string

const (
	OK      Outcome = "ok"
	Refused Outcome = "refused" // RST or ICMP port unreachable: rejected at once
	Timeout Outcome = "timeout" // dropped somewhere
	Failed  Outcome = "failed"  // anything else
)

// Classify maps a dial or read error to an Outcome.
func Classify(err error) Outcome {
	var ne net.Error
	switch {
	case err == nil:
		return OK
	case errors.Is(err, syscall.ECONNREFUSED):
		return Refused
	case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, context.DeadlineExceeded):
		return Timeout
	}
	return Failed
}

// Dial opens a connection from the prober's namespace.
func (p Prober) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	// Only IP literals, one family: a name lookup or a dual-stack race
	// would dial from other goroutines, whose threads are not in the
	// namespace.
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if _, err := netip.ParseAddr(host); err != nil {
		return nil, fmt.Errorf("dial %s from %s: an IP address is needed, not a name", addr, p.Netns)
	}
	switch network {
	case "tcp":
		network = "tcp4"
	case "udp":
		network = "udp4"
	}
	var c net.Conn
	err = p.Enter(p.Netns, func() error {
		d := net.Dialer{Timeout: p.timeout()}
		var err error
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

func (p Prober) timeout() time.Duration {
	if p.Timeout == 0 {
		return 2 * time.Second
	}
	return p.Timeout
}

// HTTPGet fetches path from addr (ip:port) and returns the body.
func (p Prober) HTTPGet(ctx context.Context, addr, path string) (string, error) {
	tr := &http.Transport{DialContext: p.Dial, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: p.timeout()}
	resp, err := c.Get("http://" + addr + path)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("HTTP %s", resp.Status)
	}
	return string(b), nil
}

// UDP sends msg to addr and returns the first reply.
func (p Prober) UDP(ctx context.Context, addr, msg string) (string, error) {
	c, err := p.Dial(ctx, "udp4", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(p.timeout()))
	if _, err := c.Write([]byte(msg)); err != nil {
		return "", err
	}
	buf := make([]byte, 65536)
	n, err := c.Read(buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// Ping sends one ICMP echo to each target and reports, per target, nil
// for an answer, ErrNoReply, or the error sending to it (a route missing
// for that target only, say): each target's outcome is its own. One socket
// serves all targets, so a pod pings a whole lab in one round trip. The
// error is for the socket itself, which fails every target.
func (p Prober) Ping(targets []netip.Addr) (map[netip.Addr]error, error) {
	var conn net.PacketConn
	err := p.Enter(p.Netns, func() error {
		var err error
		conn, err = net.ListenPacket("ip4:icmp", "0.0.0.0")
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("icmp socket in %s: %w", p.Netns, err)
	}
	defer conn.Close()
	id := uint16(time.Now().UnixNano())
	got := map[netip.Addr]bool{}
	failed := map[netip.Addr]error{}
	// A raw ICMP socket also receives every other ICMP packet reaching the
	// namespace (other pods' echo requests included), so under a lab-wide
	// pingall a reply can be dropped from a full receive queue: unanswered
	// targets are asked again, as ping does, up to three times.
	for try := range pingTries {
		for i, t := range targets {
			if got[t] || failed[t] != nil {
				continue
			}
			if p.Pace != nil {
				p.Pace()
			}
			if _, err := conn.WriteTo(echo(id, uint16(i+try*len(targets))), &net.IPAddr{IP: t.AsSlice()}); err != nil {
				failed[t] = err // the kernel refused this target only
			}
		}
		receive(conn, id, got, len(targets)-len(failed), p.timeout()/pingTries)
		if len(got)+len(failed) == len(targets) {
			break
		}
	}
	out := map[netip.Addr]error{}
	for _, t := range targets {
		switch {
		case got[t]:
			out[t] = nil
		case failed[t] != nil:
			out[t] = failed[t]
		default:
			out[t] = ErrNoReply
		}
	}
	return out, nil
}

// ErrNoReply is a ping target that did not answer in time: Classify takes
// it for a timeout.
var ErrNoReply error = noReply{}

type noReply struct{}

func (noReply) Error() string   { return "no echo reply" }
func (noReply) Timeout() bool   { return true }
func (noReply) Temporary() bool { return false }

const pingTries = 3

// receive collects echo replies with our id until all want have answered
// or the wait is over.
func receive(conn net.PacketConn, id uint16, got map[netip.Addr]bool, want int, wait time.Duration) {
	conn.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 1500)
	for len(got) < want {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			return // the deadline
		}
		if isReply(buf[:n], id) {
			a, _ := netip.AddrFromSlice(from.(*net.IPAddr).IP.To4())
			got[a] = true
		}
	}
}

// echo builds an ICMP echo request.
func echo(id, seq uint16) []byte {
	b := []byte{8, 0, 0, 0, byte(id >> 8), byte(id), byte(seq >> 8), byte(seq), 'k', 'i', 'n', 'n'}
	cs := Checksum(b)
	b[2], b[3] = byte(cs>>8), byte(cs)
	return b
}

// isReply reports whether an ICMP message (the IPv4 header already removed
// by the kernel for ip4:icmp sockets) is an echo reply with our id.
func isReply(b []byte, id uint16) bool {
	return len(b) >= 8 && b[0] == 0 && uint16(b[4])<<8|uint16(b[5]) == id
}

// Checksum is the Internet checksum (RFC 1071) of an ICMP message.
func Checksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}
