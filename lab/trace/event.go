package trace

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"time"
)

// Event is one NFT_MSG_TRACE message of one namespace: a packet with the
// nftrace bit met a rule (or a chain's policy, or a chain's end) of table
// Table. The kernel tells neither the hook nor the order across
// namespaces; Seq is the order in which the listener of Netns received it.
type Event struct {
	Netns   string
	Seq     int
	At      time.Time // when the listener received it
	ID      uint32    // the kernel's trace id: one per packet per namespace
	Table   string
	Chain   string
	Handle  uint64 // the rule's handle; 0 for a policy or return
	Type    EventType
	Verdict Verdict
	Target  string // the chain of a jump or goto
	Policy  Verdict
	IIF     uint32
	OIF     uint32
	Packet  Packet
}

// EventType is NFTA_TRACE_TYPE.
type EventType uint32

const (
	EventPolicy EventType = 1 // the chain's policy decided
	EventReturn EventType = 2 // the chain ended without a verdict
	EventRule   EventType = 3 // a rule matched
)

// Verdict is an nf_tables verdict code (NFTA_VERDICT_CODE).
type Verdict int32

const (
	VerdictDrop     Verdict = 0
	VerdictAccept   Verdict = 1
	VerdictContinue Verdict = -1
	VerdictBreak    Verdict = -2
	VerdictJump     Verdict = -3
	VerdictGoto     Verdict = -4
	VerdictReturn   Verdict = -5
)

func (v Verdict) String() string {
	switch v {
	case VerdictDrop:
		return "drop"
	case VerdictAccept:
		return "accept"
	case VerdictContinue:
		return "continue"
	case VerdictBreak:
		return "break"
	case VerdictJump:
		return "jump"
	case VerdictGoto:
		return "goto"
	case VerdictReturn:
		return "return"
	}
	return "verdict " + strconv.Itoa(int(v))
}

// Packet is what a trace event's network and transport headers say.
type Packet struct {
	Src, Dst   netip.Addr
	Proto      uint8
	TTL        uint8
	IPID       uint16 // with Length and TCPFlags, tells one packet from the next
	Length     uint16
	DSCP       uint8
	SPort      uint16
	DPort      uint16
	TCPFlags   uint8
	ICMPType   uint8
	ICMPCode   uint8
	HasHeaders bool
	DstMAC     string // from the link-layer header, where the hook has one
}

// same reports whether two sightings are of one packet: the IP id, length
// and TCP flags survive routing and NAT; the addresses and TTL do not.
func (p Packet) same(o Packet) bool {
	return p.IPID == o.IPID && p.Length == o.Length && p.TCPFlags == o.TCPFlags && p.Proto == o.Proto
}

// isAnswer tells the answer from the request. The marker alone cannot:
// the kernel copies the request's TOS into what it sends back itself (an
// echo reply, a TCP reset, a SYN-ACK of a socket that set none), so the
// kind of packet decides where it can: ICMP other than an echo request is
// an answer (echo reply, unreachable, time exceeded), and a TCP segment
// with ACK or RST set is not a connection's first (its SYN). A UDP
// datagram is the request when it carries the marker.
func (p Packet) isAnswer(dscp uint8) bool {
	switch p.Proto {
	case 1:
		return p.ICMPType != 8
	case 6:
		return p.TCPFlags&(tcpACK|tcpRST) != 0
	}
	return p.DSCP != dscp
}

// TCP flags.
const (
	tcpRST = 0x04
	tcpACK = 0x10
)

// ParsePacket reads an IPv4 header and, when given, the transport header
// that follows it (the kernel hands them over separately).
func ParsePacket(network, transport []byte) Packet {
	var p Packet
	if len(network) < 20 || network[0]>>4 != 4 {
		return p
	}
	p.HasHeaders = true
	p.DSCP = network[1] >> 2
	p.Length = binary.BigEndian.Uint16(network[2:4])
	p.IPID = binary.BigEndian.Uint16(network[4:6])
	p.TTL = network[8]
	p.Proto = network[9]
	p.Src = netip.AddrFrom4([4]byte(network[12:16]))
	p.Dst = netip.AddrFrom4([4]byte(network[16:20]))
	switch {
	case (p.Proto == 6 || p.Proto == 17) && len(transport) >= 4:
		p.SPort = binary.BigEndian.Uint16(transport[0:2])
		p.DPort = binary.BigEndian.Uint16(transport[2:4])
		if p.Proto == 6 && len(transport) >= 14 {
			p.TCPFlags = transport[13]
		}
	case p.Proto == 1 && len(transport) >= 2:
		p.ICMPType, p.ICMPCode = transport[0], transport[1]
	}
	return p
}

// Flow is a conntrack entry as seen in one namespace: the tuples of the
// original direction and of the expected reply, which differ where NAT
// translated the connection.
type Flow struct {
	Netns     string
	Proto     uint8
	OrigSrc   netip.AddrPort
	OrigDst   netip.AddrPort
	ReplySrc  netip.AddrPort
	ReplyDst  netip.AddrPort
	State     string
	SeenReply bool
}

// Route is the FIB's answer in one namespace for one packet.
type Route struct {
	Netns string
	Dst   netip.Addr
	Src   netip.Addr // the packet's source, as asked
	IIF   string     // the device the packet arrived on; "" when sent locally
	Dev   string     // the device it leaves by
	Gw    netip.Addr // the next hop, when not on-link
	Local bool       // delivered to this namespace itself
	// Bridge is set when the packet came in by a bridge port: the bridge
	// forwarded it at layer 2 (the IP hooks saw it through br_netfilter)
	// and no route was asked.
	Bridge  string
	Err     string // no route, unreachable...
	L2      *L2    // the layer-2 entries it used, once read (kernel.Layer2)
	DevKind string // the kernel's kind of Dev: bridge, veth, vxlan...
}

// ProbeResult is what the prober itself saw.
type ProbeResult struct {
	Proto   string
	Src     netip.AddrPort // the probe's source (for ICMP, the port is the echo id)
	Dst     netip.AddrPort
	Outcome Outcome
	Error   string
	Answer  string
}

// Outcome is how the probe ended for the prober.
type Outcome string

const (
	Answered Outcome = "answered"
	Refused  Outcome = "refused"   // RST or ICMP unreachable
	NoAnswer Outcome = "no answer" // timed out
	Failed   Outcome = "failed"    // the prober could not send
)
