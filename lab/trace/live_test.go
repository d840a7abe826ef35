package trace

import (
	"net/netip"
	"testing"
)

func TestLive(t *testing.T) {
	client, svc := netip.MustParseAddr("10.244.2.2"), netip.MustParseAddr("10.96.1.1")
	pkt := func(src, dst netip.Addr, proto, dscp, flags uint8) Event {
		return Event{Packet: Packet{Src: src, Dst: dst, Proto: proto, DSCP: dscp, SPort: 5000, DPort: 80, TCPFlags: flags, HasHeaders: true}}
	}
	syn := pkt(client, svc, 6, 0x2d, 0x02)
	back := func(proto, flags uint8) Event {
		ev := pkt(svc, client, proto, 0, flags)
		ev.Packet.SPort, ev.Packet.DPort = 80, 5000
		return ev
	}
	markedRST := back(6, 0x14) // the kernel copies the marker into its resets
	markedRST.Packet.DSCP = 0x2d
	icmp := back(1, 0)
	icmp.Packet.ICMPType, icmp.Packet.ICMPCode = 3, 3
	for _, c := range []struct {
		name  string
		proto string
		evs   []Event
		want  LiveState
	}{
		{"nothing yet", "tcp", nil, LiveState{}},
		{"another protocol's marked packet", "udp", []Event{syn}, LiveState{}},
		{"no headers", "tcp", []Event{{}}, LiveState{}},
		{"sent, unanswered", "tcp", []Event{syn, syn}, LiveState{Started: true, Src: netip.AddrPortFrom(client, 5000)}},
		{"SYN-ACK", "tcp", []Event{syn, back(6, 0x12)}, LiveState{Started: true, Src: netip.AddrPortFrom(client, 5000), Done: true, Outcome: Answered}},
		{"RST", "tcp", []Event{syn, back(6, 0x14)}, LiveState{Started: true, Src: netip.AddrPortFrom(client, 5000), Done: true, Outcome: Refused, Error: "connection refused (RST)"}},
		{"a RST with the marker", "tcp", []Event{syn, markedRST}, LiveState{Started: true, Src: netip.AddrPortFrom(client, 5000), Done: true, Outcome: Refused, Error: "connection refused (RST)"}},
		{"an ACK is no answer", "tcp", []Event{syn, back(6, 0x10)}, LiveState{Started: true, Src: netip.AddrPortFrom(client, 5000)}},
		{"ICMP unreachable", "tcp", []Event{syn, icmp}, LiveState{Started: true, Src: netip.AddrPortFrom(client, 5000), Done: true, Outcome: Refused, Error: "ICMP destination unreachable (code 3)"}},
		{"a datagram back", "udp", []Event{pkt(client, svc, 17, 0x2d, 0), back(17, 0)}, LiveState{Started: true, Src: netip.AddrPortFrom(client, 5000), Done: true, Outcome: Answered}},
	} {
		if got := Live(c.evs, 0x2d, c.proto); got != c.want {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
	}
}
