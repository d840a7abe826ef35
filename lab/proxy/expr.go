package proxy

import (
	"fmt"
	"net/netip"
	"time"

	"kinn.dev/kinn/lab/service"
)

// Expr is one expression of a rule. The set of expressions is closed: these
// are exactly the pieces kinn's ruleset is made of, each small enough that
// the kernel package can encode it and a learner can read its String (nft
// syntax).
type Expr interface {
	String() string
	expr()
}

// Counter counts packets and bytes reaching it. Placed first in a chain's
// first rule it counts every packet entering the chain.
type Counter struct{}

// CtState matches a conntrack state: "new", "invalid", or any of a
// comma-separated list ("established,related").
type CtState struct{ State string }

// L4Proto matches the transport protocol.
type L4Proto struct{ Proto service.Protocol }

// SaddrIs matches the source address.
type SaddrIs struct{ Addr netip.Addr }

// FibLocal matches a local address of this node as destination (or source).
type FibLocal struct{ Source bool }

// IifName matches (or, with Not, excludes) the input interface.
type IifName struct {
	Name string
	Not  bool
}

// SaddrIn matches a source address present in a set.
type SaddrIn struct{ Set string }

// SaddrPrefix matches (or, with Not, excludes) a source address in a prefix.
type SaddrPrefix struct {
	Prefix netip.Prefix
	Not    bool
}

// DaddrIn matches a destination address present in a set.
type DaddrIn struct{ Set string }

// DaddrPrefix matches a destination address in a prefix.
type DaddrPrefix struct{ Prefix netip.Prefix }

// UpdateSaddr adds the source address to a dynamic set or refreshes its timeout.
type UpdateSaddr struct {
	Set     string
	Timeout time.Duration
}

// MarkMasq sets the masquerade bit.
type MarkMasq struct{}

// MarkUnset matches packets without the masquerade bit.
type MarkUnset struct{}

// MarkClear clears the masquerade bit, so it does not leak into routing.
type MarkClear struct{}

// Masquerade rewrites the source to the outgoing interface's address, with
// fully random source ports so concurrent clients never collide.
type Masquerade struct{}

// DNAT rewrites the destination to an endpoint.
type DNAT struct {
	Addr netip.Addr
	Port uint16
}

// Reject refuses the packet with ICMP port unreachable (nft's plain
// `reject`, as kube-proxy writes it).
type Reject struct{}

// Vmap looks a key up in a verdict map and takes the verdict found. Key
// says what the key is; for KeyIndex it is `numgen random mod Mod`, for
// KeyAddrVerdict the destination address (the source with Source).
type Vmap struct {
	Key    KeyKind
	Mod    uint32
	Map    string
	Source bool
}

// RandomIs matches when a fresh `numgen random mod Mod` draw is 0, i.e.
// with probability 1/Mod.
type RandomIs struct{ Mod uint32 }

func (RandomIs) expr()            {}
func (e RandomIs) String() string { return fmt.Sprintf("numgen random mod %d == 0", e.Mod) }

func (Counter) expr()     {}
func (CtState) expr()     {}
func (L4Proto) expr()     {}
func (SaddrIs) expr()     {}
func (FibLocal) expr()    {}
func (IifName) expr()     {}
func (SaddrIn) expr()     {}
func (DaddrIn) expr()     {}
func (DaddrPrefix) expr() {}
func (SaddrPrefix) expr() {}
func (UpdateSaddr) expr() {}
func (MarkMasq) expr()    {}
func (MarkUnset) expr()   {}
func (MarkClear) expr()   {}
func (Masquerade) expr()  {}
func (DNAT) expr()        {}
func (Reject) expr()      {}
func (Vmap) expr()        {}

func (Counter) String() string       { return "counter" }
func (e CtState) String() string     { return "ct state " + e.State }
func (e L4Proto) String() string     { return "meta l4proto " + proto(e.Proto) }
func (e SaddrIs) String() string     { return "ip saddr " + e.Addr.String() }
func (e SaddrIn) String() string     { return "ip saddr @" + e.Set }
func (e DaddrIn) String() string     { return "ip daddr @" + e.Set }
func (e DaddrPrefix) String() string { return "ip daddr " + e.Prefix.String() }
func (e SaddrPrefix) String() string {
	return map[bool]string{false: "ip saddr ", true: "ip saddr != "}[e.Not] + e.Prefix.String()
}
func (MarkMasq) String() string   { return fmt.Sprintf("meta mark set meta mark | %#x", MasqMark) }
func (MarkUnset) String() string  { return fmt.Sprintf("meta mark & %#x == 0", MasqMark) }
func (MarkClear) String() string  { return fmt.Sprintf("meta mark set meta mark ^ %#x", MasqMark) }
func (Masquerade) String() string { return "masquerade fully-random" }
func (e DNAT) String() string     { return fmt.Sprintf("dnat to %s:%d", e.Addr, e.Port) }
func (e UpdateSaddr) String() string {
	return fmt.Sprintf("update @%s { ip saddr timeout %s }", e.Set, e.Timeout)
}
func (e FibLocal) String() string {
	return map[bool]string{false: "fib daddr type local", true: "fib saddr type local"}[e.Source]
}
func (e IifName) String() string {
	return map[bool]string{false: "iifname ", true: "iifname != "}[e.Not] + fmt.Sprintf("%q", e.Name)
}
func (Reject) String() string { return "reject" }

func (e Vmap) String() string {
	switch e.Key {
	case KeyServiceIP:
		return "ip daddr . meta l4proto . th dport vmap @" + e.Map
	case KeyNodePort:
		return "meta l4proto . th dport vmap @" + e.Map
	case KeyAddrVerdict:
		return map[bool]string{false: "ip daddr", true: "ip saddr"}[e.Source] + " vmap @" + e.Map
	}
	return fmt.Sprintf("numgen random mod %d vmap @%s", e.Mod, e.Map)
}
