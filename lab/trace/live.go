package trace

import (
	"fmt"
	"net/netip"
)

// LiveState is what the source namespace's trace events say so far about
// a live trace's connection (kinn trace --live): there is no prober to
// tell whether it was answered, so the kernel's events of the source
// namespace are read instead.
type LiveState struct {
	Started bool           // its first packet left the source
	Src     netip.AddrPort // that packet's source, as the program's socket has it
	Done    bool           // its answer came back
	Outcome Outcome        // Answered or Refused, once Done
	Error   string         // why Refused
}

// Live reads the events of the source namespace: the first marked packet
// of protocol proto is the connection's; the first answer to its source
// that came back (its connection is labelled, so it is the connection's)
// answers it: a SYN-ACK or a datagram is an answer, a RST or an ICMP
// error a refusal.
func Live(evs []Event, dscp uint8, proto string) LiveState {
	var st LiveState
	num := map[string]uint8{"tcp": 6, "udp": 17}[proto]
	for _, ev := range evs {
		p := ev.Packet
		if !p.HasHeaders {
			continue
		}
		if !st.Started {
			if p.DSCP == dscp && p.Proto == num {
				st.Started, st.Src = true, netip.AddrPortFrom(p.Src, p.SPort)
			}
			continue
		}
		// Told by kind, not by the marker: the kernel copies it into
		// the resets and ICMP errors it sends itself (isAnswer).
		if !p.isAnswer(dscp) || p.Dst != st.Src.Addr() {
			continue
		}
		if o, why, ok := answer(p, num); ok {
			st.Done, st.Outcome, st.Error = true, o, why
			return st
		}
	}
	return st
}

// answer classifies a packet that came back to the connection's source.
func answer(p Packet, proto uint8) (Outcome, string, bool) {
	const syn, rst, ack = 0x02, 0x04, 0x10
	switch {
	case p.Proto == 6 && proto == 6 && p.TCPFlags&rst != 0:
		return Refused, "connection refused (RST)", true
	case p.Proto == 6 && proto == 6 && p.TCPFlags&(syn|ack) == syn|ack:
		return Answered, "", true
	case p.Proto == 17 && proto == 17:
		return Answered, "", true
	case p.Proto == 1 && p.ICMPType == 3:
		return Refused, fmt.Sprintf("ICMP destination unreachable (code %d)", p.ICMPCode), true
	case p.Proto == 1 && p.ICMPType == 11:
		return Refused, "ICMP time exceeded", true
	}
	return "", "", false
}
