package trace

import (
	"fmt"
	"net/netip"
)

// answerHop tells what the first traced packet of the reply was, where it
// was sent: who answered, and how (a SYN-ACK, a reset, an echo reply, an
// ICMP error). false when the group carries no headers to tell.
func (in Input) answerHop(g group) (Hop, bool) {
	pl := in.Places[g.netns]
	h := Hop{Namespace: g.netns, Node: pl.Node, Pod: pl.Pod, Component: CompSocket}
	for _, ev := range g.events {
		if ev.Packet.HasHeaders {
			h.Action = answerWords(ev.Packet)
			return h, h.Action != ""
		}
	}
	return h, false
}

// answerWords names an answer packet.
func answerWords(p Packet) string {
	src, dst := netip.AddrPortFrom(p.Src, p.SPort), netip.AddrPortFrom(p.Dst, p.DPort)
	switch p.Proto {
	case 6:
		if p.TCPFlags&tcpRST != 0 {
			return fmt.Sprintf("answered with a TCP reset (RST) from %s to %s: no socket listens there", src, dst)
		}
		return fmt.Sprintf("a TCP listener accepted: SYN-ACK from %s to %s", src, dst)
	case 17:
		return fmt.Sprintf("a UDP answer from %s to %s", src, dst)
	case 1:
		switch p.ICMPType {
		case 0:
			return fmt.Sprintf("the kernel answered the echo: echo reply from %s to %s", p.Src, p.Dst)
		case 3:
			return fmt.Sprintf("ICMP destination unreachable (%s) sent by %s to %s", unreachable(p.ICMPCode), p.Src, p.Dst)
		case 11:
			return fmt.Sprintf("ICMP time exceeded (TTL ran out) sent by %s to %s", p.Src, p.Dst)
		}
		return fmt.Sprintf("ICMP type %d code %d sent by %s to %s", p.ICMPType, p.ICMPCode, p.Src, p.Dst)
	}
	return ""
}

// unreachable names an ICMP destination-unreachable code (RFC 792, 1812).
func unreachable(code uint8) string {
	switch code {
	case 0:
		return "network unreachable"
	case 1:
		return "host unreachable"
	case 3:
		return "port unreachable"
	case 4:
		return "fragmentation needed"
	case 9, 10, 13:
		return "administratively prohibited"
	}
	return fmt.Sprintf("code %d", code)
}
