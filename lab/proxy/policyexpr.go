package proxy

import (
	"fmt"
	"net/netip"

	"kinn.dev/kinn/lab/ipam"
)

// Expressions NetworkPolicy enforcement is made of (issue 15): verdict
// logging to NFLOG, conntrack label bits that remember which rule allowed
// a flow, port ranges, and lookups of an address concatenated with a
// constant id. The constant is what keeps the rules fixed while pods and
// namespaces churn: a peer (or a named port) is an id in the rule, and its
// members are elements `address . id` of one set shared by every rule, so
// relabelling a pod changes elements, never rules or sets.

// MaxLogPrefix is the longest log prefix the kernel accepts (its
// NF_LOG_PREFIXLEN is 128 bytes with the terminating NUL).
const MaxLogPrefix = 127

// MaxLabelBit is the highest conntrack label bit (labels are 128 bits).
const MaxLabelBit = 127

// Log sends the packet to an NFLOG group with a prefix naming the verdict.
// It never blocks the packet, unlike NFQUEUE: with no listener the
// message is dropped, not the packet.
type Log struct {
	Group  uint16
	Prefix string
}

// CtLabelSet sets one conntrack label bit of the packet's connection; the
// other bits are kept.
type CtLabelSet struct{ Bit uint8 }

// CtLabel matches connections carrying a conntrack label bit.
type CtLabel struct{ Bit uint8 }

// Dport matches the transport destination port in First..Last, inclusive
// (a single port when they are equal), of whatever protocol a preceding
// L4Proto fixed.
type Dport struct{ First, Last uint16 }

// AddrGroupIn matches when `address . Group` is in Set, the address being
// the source (or, without Source, the destination): the peer test of a
// policy rule. Set is of KeyAddrGroup (pod addresses) or KeyRangeGroup
// (ipBlock ranges).
type AddrGroupIn struct {
	Source bool
	Group  uint32
	Set    string
}

// NamedPortIn matches when `daddr . l4proto . dport . Name` is in Set (of
// KeyNamedPort): the destination pod serves the named port Name on this
// protocol and port.
type NamedPortIn struct {
	Name uint32
	Set  string
}

func (Log) expr()         {}
func (CtLabelSet) expr()  {}
func (CtLabel) expr()     {}
func (Dport) expr()       {}
func (AddrGroupIn) expr() {}
func (NamedPortIn) expr() {}

// String is as nft lists it (prefix before group).
func (e Log) String() string        { return fmt.Sprintf("log prefix %q group %d", e.Prefix, e.Group) }
func (e CtLabelSet) String() string { return fmt.Sprintf("ct label set %d", e.Bit) }
func (e CtLabel) String() string    { return fmt.Sprintf("ct label %d", e.Bit) }

func (e Dport) String() string {
	if e.First == e.Last {
		return fmt.Sprintf("th dport %d", e.First)
	}
	return fmt.Sprintf("th dport %d-%d", e.First, e.Last)
}

func (e AddrGroupIn) String() string {
	return fmt.Sprintf("%s . %s @%s", map[bool]string{false: "ip daddr", true: "ip saddr"}[e.Source], markText(e.Group), e.Set)
}

func (e NamedPortIn) String() string {
	return fmt.Sprintf("ip daddr . meta l4proto . th dport . %s @%s", markText(e.Name), e.Set)
}

// markText renders a mark-typed id as nft does.
func markText(v uint32) string { return fmt.Sprintf("0x%08x", v) }

// rangeText renders First..Last as nft lists an interval: a prefix when
// the range is one, else first-last.
func rangeText(first, last netip.Addr) string {
	if !last.IsValid() || first == last {
		return first.String()
	}
	for bits := first.BitLen(); bits >= 0; bits-- {
		p := netip.PrefixFrom(first, bits)
		if p.Masked().Addr() != first {
			break
		}
		if ipam.Broadcast(p) == last {
			return p.String()
		}
	}
	return first.String() + "-" + last.String()
}
