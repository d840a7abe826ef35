package proxy

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"kinn.dev/kinn/lab/service"
)

// TableName is the name of kinn's nftables table (family ip) in every node.
const TableName = "kinn"

// MasqMark is the packet mark bit that asks the srcnat chain to masquerade,
// the same bit kube-proxy uses.
const MasqMark = 0x4000

// Ruleset is the desired content of one node's kinn table. Chains and Maps are
// sorted by name so two Rulesets built from the same input are identical.
type Ruleset struct {
	Chains []*Chain
	Maps   []*Map
	// Health lists the health-check node ports a caller should serve.
	Health []HealthCheck
}

// Chain returns the named chain, or nil.
func (rs *Ruleset) Chain(name string) *Chain {
	for _, c := range rs.Chains {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Map returns the named map or set, or nil.
func (rs *Ruleset) Map(name string) *Map {
	for _, m := range rs.Maps {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// Hook makes a chain a base chain that netfilter calls.
type Hook struct {
	Type     string // "nat" or "filter"
	Hook     string // "prerouting", "input", "forward", "output", "postrouting"
	Priority int32
}

// Chain is a chain and its rules, in order.
type Chain struct {
	Name  string
	Hook  *Hook // nil for a regular chain
	Rules []Rule
}

// Rule is one rule: matches, then statements, in evaluation order.
type Rule struct {
	Exprs   []Expr
	Comment string
}

// String renders the rule in nft syntax, as `nft list ruleset` would.
func (r Rule) String() string {
	parts := make([]string, 0, len(r.Exprs)+1)
	for _, e := range r.Exprs {
		parts = append(parts, e.String())
	}
	if r.Comment != "" {
		parts = append(parts, fmt.Sprintf("comment %q", r.Comment))
	}
	return strings.Join(parts, " ")
}

// refs lists the maps and sets the rule reads or writes.
func (r Rule) refs() []string {
	var out []string
	for _, e := range r.Exprs {
		switch e := e.(type) {
		case Vmap:
			out = append(out, e.Map)
		case SaddrIn:
			out = append(out, e.Set)
		case DaddrIn:
			out = append(out, e.Set)
		case UpdateSaddr:
			out = append(out, e.Set)
		case AddrGroupIn:
			out = append(out, e.Set)
		case NamedPortIn:
			out = append(out, e.Set)
		}
	}
	return out
}

// KeyKind is what a map's keys are.
type KeyKind int

const (
	// KeyServiceIP is ip daddr . meta l4proto . th dport.
	KeyServiceIP KeyKind = iota
	// KeyNodePort is meta l4proto . th dport.
	KeyNodePort
	// KeyIndex is the integer numgen produces.
	KeyIndex
	// KeyAddr is a plain IPv4 address: a set, dynamic with a timeout
	// (affinity clients) or static without (cluster-ips).
	KeyAddr
	// KeyAddrVerdict is an address mapped to a verdict: a NetworkPolicy
	// table's isolated pods, each to its chain.
	KeyAddrVerdict
	// KeyAddrGroup is a set of ipv4_addr . mark: pod address . peer id.
	KeyAddrGroup
	// KeyRangeGroup is a set of intervals of ipv4_addr . mark: an ipBlock
	// minus its excepts, as address ranges . peer id.
	KeyRangeGroup
	// KeyNamedPort is a set of ipv4_addr . inet_proto . inet_service . mark:
	// pod address . protocol . port . named port id.
	KeyNamedPort
)

// Map is a named verdict map or, for KeyAddr, a set of addresses: static
// (kinn's elements, their verdicts unused) or, with a Timeout, dynamic
// (clients the kernel adds, for session affinity).
type Map struct {
	Name    string
	Key     KeyKind
	Timeout time.Duration // KeyAddr only: how long an idle client is remembered
	Comment string
	Elems   []Elem // sorted by key; always empty for dynamic sets
}

// IsSet reports whether the map is a plain set (no verdicts).
func (m *Map) IsSet() bool { return m.Key.isSet() }

func (k KeyKind) isSet() bool {
	return k == KeyAddr || k == KeyAddrGroup || k == KeyRangeGroup || k == KeyNamedPort
}

// IsDynamic reports whether the map is a set the kernel fills itself.
func (m *Map) IsDynamic() bool { return m.IsSet() && m.Timeout > 0 }

// sameDef reports whether two maps can be turned into each other by element
// changes alone.
func (m *Map) sameDef(o *Map) bool {
	return m.Key == o.Key && m.Timeout == o.Timeout && m.Comment == o.Comment
}

// Elem is one element of a verdict map.
type Elem struct {
	Key     Key
	Verdict Verdict
}

// Key is a map key; which fields count depends on the map's KeyKind.
type Key struct {
	Addr  netip.Addr
	Proto service.Protocol
	Port  uint16
	Index uint32
	// Last is the last address of a KeyRangeGroup interval (inclusive).
	Last netip.Addr
	// Group is the constant id of KeyAddrGroup, KeyRangeGroup and
	// KeyNamedPort elements.
	Group uint32
}

// String renders the key as nft prints it for the given kind.
func (k Key) String(kind KeyKind) string {
	switch kind {
	case KeyServiceIP:
		return fmt.Sprintf("%s . %s . %d", k.Addr, proto(k.Proto), k.Port)
	case KeyNodePort:
		return fmt.Sprintf("%s . %d", proto(k.Proto), k.Port)
	case KeyIndex:
		return fmt.Sprint(k.Index)
	case KeyAddrGroup:
		return k.Addr.String() + " . " + markText(k.Group)
	case KeyRangeGroup:
		return rangeText(k.Addr, k.Last) + " . " + markText(k.Group)
	case KeyNamedPort:
		return fmt.Sprintf("%s . %s . %d . %s", k.Addr, proto(k.Proto), k.Port, markText(k.Group))
	}
	return k.Addr.String()
}

func proto(p service.Protocol) string { return strings.ToLower(string(p)) }

// ProtoNumber is the IP protocol number of p.
func ProtoNumber(p service.Protocol) uint8 {
	switch p {
	case service.UDP:
		return 17
	case service.SCTP:
		return 132
	}
	return 6
}

// VerdictKind is what a verdict does.
type VerdictKind int

const (
	Accept VerdictKind = iota
	Drop
	Return
	Jump
	Goto
)

// Verdict ends (or branches) a rule's evaluation.
type Verdict struct {
	Kind  VerdictKind
	Chain string // Jump and Goto
}

func (v Verdict) expr() {}

func (v Verdict) String() string {
	switch v.Kind {
	case Drop:
		return "drop"
	case Return:
		return "return"
	case Jump:
		return "jump " + v.Chain
	case Goto:
		return "goto " + v.Chain
	}
	return "accept"
}

func jump(c string) Verdict  { return Verdict{Kind: Jump, Chain: c} }
func gotoV(c string) Verdict { return Verdict{Kind: Goto, Chain: c} }
