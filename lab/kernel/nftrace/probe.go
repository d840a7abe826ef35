package nftrace

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"

	"kinn.dev/kinn/lab/kernel"
	"kinn.dev/kinn/lab/probe"
	"kinn.dev/kinn/lab/trace"
)

// Send sends one probe from the named namespace to dst with the given DSCP
// on every packet (IP_TOS on the socket) and waits up to timeout for its
// answer: a TCP connect, a UDP datagram (see udpPayload), or an ICMP
// echo. The socket is created on a
// thread inside the namespace and lives there.
func Send(ctx context.Context, netnsName, proto string, dst netip.AddrPort, dscp uint8, timeout time.Duration) trace.ProbeResult {
	r := trace.ProbeResult{Proto: proto, Dst: dst}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var err error
	switch proto {
	case "tcp", "udp":
		err = sendSocket(ctx, netnsName, proto, dst, dscp, udpPayload(dst.Port()), &r)
	case "icmp":
		err = sendEcho(ctx, netnsName, dst.Addr(), dscp, &r)
	default:
		err = fmt.Errorf("protocol %q: tcp, udp or icmp", proto)
	}
	r.Outcome, r.Error = classify(err)
	return r
}

func classify(err error) (trace.Outcome, string) {
	var ne net.Error
	switch {
	case err == nil:
		return trace.Answered, ""
	case errors.Is(err, syscall.ECONNREFUSED):
		return trace.Refused, "connection refused"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return trace.Refused, err.Error()
	case errors.Is(err, syscall.EPERM):
		// A netfilter rule of the sender's own namespace dropped (or
		// rejected) it at the output hook: the send itself fails so.
		return trace.NoAnswer, "EPERM on send: a rule in the sender's own namespace"
	case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return trace.NoAnswer, "no answer"
	}
	return trace.Failed, err.Error()
}

// SendUDP sends one UDP datagram with the given payload as Send does, and
// waits up to timeout for the first datagram back, in the result's Answer.
func SendUDP(ctx context.Context, netnsName string, dst netip.AddrPort, payload []byte, dscp uint8, timeout time.Duration) trace.ProbeResult {
	r := trace.ProbeResult{Proto: "udp", Dst: dst}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	r.Outcome, r.Error = classify(sendSocket(ctx, netnsName, "udp", dst, dscp, payload, &r))
	return r
}

func sendSocket(ctx context.Context, netnsName, proto string, dst netip.AddrPort, dscp uint8, payload []byte, r *trace.ProbeResult) error {
	var c net.Conn
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			// Bound before connect, so the source port is known even when
			// the connect fails: conntrack is looked up by it.
			if serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_TOS, int(dscp)<<2); serr != nil {
				return
			}
			if serr = unix.Bind(int(fd), &unix.SockaddrInet4{}); serr != nil {
				return
			}
			sa, err := unix.Getsockname(int(fd))
			if err != nil {
				serr = err
				return
			}
			if in, ok := sa.(*unix.SockaddrInet4); ok {
				r.Src = netip.AddrPortFrom(netip.AddrFrom4(in.Addr), uint16(in.Port))
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
	err := kernel.Do(netnsName, func() error {
		var err error
		c, err = d.DialContext(ctx, proto+"4", dst.String())
		return err
	})
	if err != nil {
		return err
	}
	defer c.Close()
	if a, err := netip.ParseAddrPort(c.LocalAddr().String()); err == nil {
		r.Src = a
	}
	if proto == "tcp" {
		return nil
	}
	deadline, _ := ctx.Deadline()
	c.SetDeadline(deadline)
	if _, err := c.Write(payload); err != nil {
		return err
	}
	buf := make([]byte, 65536)
	n, err := c.Read(buf)
	r.Answer = string(buf[:n])
	return err
}

// udpPayload is what the UDP probe says: a DNS question to a DNS port
// (a DNS server answers nothing else), else "hostname", which the lab's
// netexec servers answer.
func udpPayload(port uint16) []byte {
	if port != 53 {
		return []byte("hostname")
	}
	q := new(dns.Msg)
	q.SetQuestion("kubernetes.default.svc.cluster.local.", dns.TypeA)
	b, _ := q.Pack()
	return b
}

// sendEcho sends an ICMP echo request through a raw socket (a new
// namespace's ping_group_range allows no ping sockets) and waits for its
// reply or an ICMP error about it.
func sendEcho(ctx context.Context, netnsName string, dst netip.Addr, dscp uint8, r *trace.ProbeResult) error {
	var fd int
	err := kernel.Do(netnsName, func() error {
		var err error
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMP)
		return err
	})
	if err != nil {
		return fmt.Errorf("icmp socket in %s: %w", netnsName, err)
	}
	f := os.NewFile(uintptr(fd), "icmp")
	defer f.Close()
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TOS, int(dscp)<<2); err != nil {
		return err
	}
	id := uint16(os.Getpid()) ^ uint16(time.Now().UnixNano())
	msg := []byte{8, 0, 0, 0, byte(id >> 8), byte(id), 0, 1, 'k', 'i', 'n', 'n'}
	binary.BigEndian.PutUint16(msg[2:], probe.Checksum(msg))
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrInet4{Addr: dst.As4()}); err != nil {
		return err
	}
	r.Src = netip.AddrPortFrom(netip.Addr{}, id)
	deadline, _ := ctx.Deadline()
	buf := make([]byte, 1500)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return os.ErrDeadlineExceeded
		}
		tv := unix.NsecToTimeval(left.Nanoseconds())
		unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return err
		}
		if ok, res := echoAnswer(buf[:n], id); ok {
			return res
		}
	}
}

// echoAnswer reads one received IPv4 packet: the reply to echo id (ok, nil),
// an ICMP error about it (ok, the error), or something else (not ok).
func echoAnswer(p []byte, id uint16) (bool, error) {
	if len(p) < 20 {
		return false, nil
	}
	hl := int(p[0]&0x0f) * 4
	if len(p) < hl+8 {
		return false, nil
	}
	icmp := p[hl:]
	switch icmp[0] {
	case 0: // echo reply
		return binary.BigEndian.Uint16(icmp[4:6]) == id, nil
	case 3: // destination unreachable, about the echo inside
		inner := icmp[8:]
		if len(inner) < 20 {
			return false, nil
		}
		ihl := int(inner[0]&0x0f) * 4
		if len(inner) < ihl+8 || inner[9] != 1 || binary.BigEndian.Uint16(inner[ihl+4:ihl+6]) != id {
			return false, nil
		}
		return true, syscall.EHOSTUNREACH
	}
	return false, nil
}
