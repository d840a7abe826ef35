package nft

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"net/netip"
	"strings"

	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Rule text for tables kinn did not write (a CNI plugin's, portmap's,
// iptables-nft's): kinn trace shows what such a rule says, read back from
// the kernel's expressions, as `nft list` would print it for the common
// shapes (payload and meta matches, fib, ct, NAT, verdicts). An expression
// it has no words for is named by its kind, never guessed at.

// field is what a register holds: a loaded header field, meta key or
// constant, with what its bytes mean.
type field struct {
	name string
	kind fieldKind
	mask []byte // a bitwise mask applied to it since it was loaded
	data []byte // an immediate's constant
	bits int    // an address loaded in part: the prefix length its bytes make
}

type fieldKind int

const (
	kindNum  fieldKind = iota // big-endian number
	kindHost                  // host-endian number (meta mark, ct mark)
	kindAddr
	kindProto
	kindName // a NUL-padded interface name
	kindFibType
	kindCtState
	kindBytes
	kindLabel // a conntrack label bitmap
)

// textRenderer turns one rule's expressions into nft syntax.
type textRenderer struct {
	regs    map[uint32]field // by 32-bit register
	written map[uint32]int   // when each 32-bit register was last written
	writes  int
	words   []string
	l4      string // the protocol a preceding l4proto match fixed, for "tcp dport"
	pending string // that match's own words, dropped when a transport field follows
	nat     string
}

// ruleText renders a rule's expressions, and says what translation it
// makes ("dnat to 10.244.1.5:8080", "masquerade"), "" when none.
func ruleText(exprs []expr.Any) (text, nat string) {
	r := &textRenderer{regs: map[uint32]field{}, written: map[uint32]int{}}
	for _, e := range exprs {
		r.expr(e)
	}
	r.flush()
	return strings.Join(r.words, " "), r.nat
}

func (r *textRenderer) say(w ...string) {
	r.flush()
	r.words = append(r.words, w...)
}

func (r *textRenderer) flush() {
	if r.pending != "" {
		r.words = append(r.words, r.pending)
		r.pending = ""
	}
}

func (r *textRenderer) expr(e expr.Any) {
	switch e := e.(type) {
	case *expr.Payload:
		r.payload(e)
	case *expr.Meta:
		r.meta(e)
	case *expr.Ct:
		r.ct(e)
	case *expr.Fib:
		r.put(e.Register, field{name: fibName(e), kind: kindFibType})
	case *expr.Immediate:
		r.put(e.Register, field{kind: kindBytes, data: e.Data})
	case *expr.Bitwise:
		f := r.get(e.SourceRegister)
		f.mask = e.Mask
		r.put(e.DestRegister, f)
	case *expr.Cmp:
		r.cmp(e)
	case *expr.Lookup:
		r.lookup(e)
	case *expr.NAT:
		r.natExpr(e)
	case *expr.Masq:
		r.masq(e)
	case *expr.Verdict:
		r.say(strings.TrimSpace(verdictWord(e.Kind) + " " + e.Chain))
	case *expr.Counter:
		r.say("counter")
	case *expr.Reject:
		r.say("reject")
	case *expr.Log:
		r.log(e)
	case *expr.Range:
		r.rangeExpr(e)
	case *opaque:
		r.say(opaqueWord(e))
	default:
		r.say(exprKind(e))
	}
}

func (r *textRenderer) payload(e *expr.Payload) {
	if e.OperationType != expr.PayloadLoad {
		r.say("payload write")
		return
	}
	f := field{kind: kindNum, name: fmt.Sprintf("@%s,%d,%d", payloadBase(e.Base), e.Offset*8, e.Len*8)}
	switch {
	case e.Base == expr.PayloadBaseNetworkHeader && e.Offset == 12 && e.Len == 4:
		f = field{name: "ip saddr", kind: kindAddr}
	case e.Base == expr.PayloadBaseNetworkHeader && e.Offset == 16 && e.Len == 4:
		f = field{name: "ip daddr", kind: kindAddr}
	case e.Base == expr.PayloadBaseNetworkHeader && (e.Offset == 12 || e.Offset == 16) && e.Len < 4:
		// nft loads only the bytes of a prefix that is a whole number of them
		f = field{name: map[uint32]string{12: "ip saddr", 16: "ip daddr"}[e.Offset], kind: kindAddr, bits: int(e.Len) * 8}
	case e.Base == expr.PayloadBaseNetworkHeader && e.Offset == 9 && e.Len == 1:
		f = field{name: "ip protocol", kind: kindProto}
	case e.Base == expr.PayloadBaseTransportHeader && e.Len == 2 && (e.Offset == 0 || e.Offset == 2):
		proto := r.l4
		if proto == "" {
			proto = "th"
		} else {
			r.pending = "" // "tcp dport" says the protocol itself
		}
		f = field{name: proto + map[uint32]string{0: " sport", 2: " dport"}[e.Offset], kind: kindNum}
	}
	r.put(e.DestRegister, f)
}

func payloadBase(b expr.PayloadBase) string {
	return map[expr.PayloadBase]string{expr.PayloadBaseLLHeader: "ll", expr.PayloadBaseNetworkHeader: "nh",
		expr.PayloadBaseTransportHeader: "th"}[b]
}

var metaNames = map[expr.MetaKey]struct {
	name string
	kind fieldKind
}{
	expr.MetaKeyL4PROTO: {"meta l4proto", kindProto}, expr.MetaKeyNFPROTO: {"meta nfproto", kindNum},
	expr.MetaKeyMARK: {"meta mark", kindHost}, expr.MetaKeyIIFNAME: {"iifname", kindName},
	expr.MetaKeyOIFNAME: {"oifname", kindName}, expr.MetaKeyIIF: {"iif", kindHost}, expr.MetaKeyOIF: {"oif", kindHost},
	expr.MetaKeyNFTRACE: {"meta nftrace", kindNum}, expr.MetaKeyPKTTYPE: {"meta pkttype", kindNum},
}

func (r *textRenderer) meta(e *expr.Meta) {
	m, ok := metaNames[e.Key]
	if !ok {
		m.name, m.kind = fmt.Sprintf("meta key %d", e.Key), kindHost
	}
	if e.SourceRegister {
		r.say(m.name, "set", value(field{kind: m.kind}, r.get(e.Register)))
		return
	}
	r.put(e.Register, field{name: m.name, kind: m.kind})
}

func (r *textRenderer) ct(e *expr.Ct) {
	name, kind := "ct "+ctKeyName(e.Key), kindHost
	switch e.Key {
	case expr.CtKeySTATE:
		kind = kindCtState
	case expr.CtKeyLABELS:
		kind = kindLabel
	}
	if e.SourceRegister {
		r.say(name, "set", value(field{kind: kind}, r.get(e.Register)))
		return
	}
	r.put(e.Register, field{name: name, kind: kind})
}

func ctKeyName(k expr.CtKey) string {
	n, ok := map[expr.CtKey]string{expr.CtKeySTATE: "state", expr.CtKeyDIRECTION: "direction", expr.CtKeySTATUS: "status",
		expr.CtKeyMARK: "mark", expr.CtKeyLABELS: "label", expr.CtKeyZONE: "zone"}[k]
	if !ok {
		return fmt.Sprintf("key %d", k)
	}
	return n
}

func fibName(e *expr.Fib) string {
	var by []string
	for _, f := range []struct {
		on   bool
		name string
	}{{e.FlagSADDR, "saddr"}, {e.FlagDADDR, "daddr"}, {e.FlagMARK, "mark"}, {e.FlagIIF, "iif"}, {e.FlagOIF, "oif"}} {
		if f.on {
			by = append(by, f.name)
		}
	}
	what := "type"
	switch {
	case e.ResultOIF:
		what = "oif"
	case e.ResultOIFNAME:
		what = "oifname"
	}
	return "fib " + strings.Join(by, " . ") + " " + what
}

var cmpOps = map[expr.CmpOp]string{expr.CmpOpEq: "", expr.CmpOpNeq: "!= ", expr.CmpOpLt: "< ",
	expr.CmpOpLte: "<= ", expr.CmpOpGt: "> ", expr.CmpOpGte: ">= "}

func (r *textRenderer) cmp(e *expr.Cmp) {
	f := r.get(e.Register)
	words := strings.TrimSpace(f.name + " " + cmpOps[e.Op] + value(f, field{data: e.Data}))
	switch {
	case f.kind == kindCtState && e.Op == expr.CmpOpNeq && len(f.mask) == 4 && isZero(e.Data):
		words = f.name + " " + ctStates(binary.NativeEndian.Uint32(f.mask)) // ct state a,b: any of them
	case f.kind == kindLabel && e.Op == expr.CmpOpNeq && f.mask != nil && isZero(e.Data):
		words = f.name + " " + labelNames(f.mask) // ct label n: any of them
	case f.mask != nil && f.kind != kindAddr && f.kind != kindCtState:
		op := cmpOps[e.Op]
		if op == "" {
			op = "== "
		}
		words = fmt.Sprintf("%s & %s %s%s", f.name, value(field{kind: f.kind}, field{data: f.mask}), op, value(f, field{data: e.Data}))
	}
	if r.rangeEnd(f, e) {
		return
	}
	if f.name == "meta l4proto" && e.Op == expr.CmpOpEq {
		r.flush()
		r.l4, r.pending = strings.ToLower(protoName(firstByte(e.Data))), words
		return
	}
	r.say(words)
}

func (r *textRenderer) lookup(e *expr.Lookup) {
	f := r.get(e.SourceRegister)
	op := ""
	if e.Invert {
		op = "!= "
	}
	if c := r.concat(e.SourceRegister); c != "" {
		f.name = c
	}
	switch {
	case e.IsDestRegSet && e.DestRegister == unix.NFT_REG_VERDICT:
		r.say(f.name, "vmap", "@"+e.SetName)
	case e.IsDestRegSet:
		r.put(e.DestRegister, field{name: f.name + " map @" + e.SetName, kind: kindBytes})
	default:
		r.say(f.name, op+"@"+e.SetName)
	}
}

func (r *textRenderer) natExpr(e *expr.NAT) {
	verb := "snat"
	if e.Type == expr.NATTypeDestNAT {
		verb = "dnat"
	}
	to := ""
	if a := r.get(e.RegAddrMin).data; e.RegAddrMin != 0 && len(a) >= 4 {
		to = netip.AddrFrom4([4]byte(a[:4])).String()
	}
	if p := r.get(e.RegProtoMin).data; e.RegProtoMin != 0 && len(p) >= 2 {
		to += fmt.Sprintf(":%d", binary.BigEndian.Uint16(p))
	}
	r.nat = strings.TrimSpace(verb + " to " + to)
	r.say(r.nat)
}

func (r *textRenderer) masq(e *expr.Masq) {
	w := "masquerade"
	for _, f := range []struct {
		on   bool
		name string
	}{{e.Random, "random"}, {e.FullyRandom, "fully-random"}, {e.Persistent, "persistent"}} {
		if f.on {
			w += " " + f.name
		}
	}
	r.nat = w
	r.say(w)
}

// value renders the bytes of b as what the field f holds.
func value(f, b field) string {
	d := b.data
	switch f.kind {
	case kindAddr:
		if f.bits > 0 && len(d) == f.bits/8 {
			var a [4]byte
			copy(a[:], d)
			return netip.PrefixFrom(netip.AddrFrom4(a), f.bits).String()
		}
		if len(d) == 4 {
			a := netip.AddrFrom4([4]byte(d))
			if ones := maskOnes(f.mask); ones >= 0 && ones < 32 {
				return netip.PrefixFrom(a, ones).String()
			}
			return a.String()
		}
	case kindProto:
		return strings.ToLower(protoName(firstByte(d)))
	case kindName:
		return fmt.Sprintf("%q", strings.TrimRight(string(d), "\x00"))
	case kindFibType:
		if len(d) == 4 {
			return fibTypeName(binary.NativeEndian.Uint32(d))
		}
	case kindCtState:
		if len(d) == 4 {
			return ctStates(binary.NativeEndian.Uint32(d))
		}
	case kindLabel:
		if len(d) == 16 && !isZero(d) {
			return labelNames(d)
		}
	case kindHost:
		if len(d) == 4 {
			return fmt.Sprintf("%#x", binary.NativeEndian.Uint32(d))
		}
	case kindNum:
		switch len(d) {
		case 1:
			return fmt.Sprint(d[0])
		case 2:
			return fmt.Sprint(binary.BigEndian.Uint16(d))
		case 4:
			return fmt.Sprint(binary.BigEndian.Uint32(d))
		}
	}
	return fmt.Sprintf("0x%x", d)
}

func isZero(d []byte) bool {
	for _, b := range d {
		if b != 0 {
			return false
		}
	}
	return true
}

// maskOnes is the prefix length of a contiguous network mask; -1 for none.
func maskOnes(m []byte) int {
	if len(m) != 4 {
		return -1
	}
	v := binary.BigEndian.Uint32(m)
	ones := bits.LeadingZeros32(^v)
	if v<<ones != 0 {
		return -1
	}
	return ones
}

func firstByte(d []byte) byte {
	if len(d) == 0 {
		return 0
	}
	return d[0]
}

func fibTypeName(t uint32) string {
	names := []string{"unspec", "unicast", "local", "broadcast", "anycast", "multicast", "blackhole", "unreachable", "prohibit"}
	if int(t) < len(names) {
		return names[t]
	}
	return fmt.Sprint(t)
}

func ctStates(v uint32) string {
	var out []string
	for _, s := range []struct {
		bit  uint32
		name string
	}{{expr.CtStateBitINVALID, "invalid"}, {expr.CtStateBitESTABLISHED, "established"}, {expr.CtStateBitRELATED, "related"},
		{expr.CtStateBitNEW, "new"}, {expr.CtStateBitUNTRACKED, "untracked"}} {
		if v&s.bit != 0 {
			out = append(out, s.name)
		}
	}
	return strings.Join(out, ",")
}

func verdictWord(k expr.VerdictKind) string {
	return map[expr.VerdictKind]string{expr.VerdictAccept: "accept", expr.VerdictDrop: "drop", expr.VerdictReturn: "return",
		expr.VerdictJump: "jump", expr.VerdictGoto: "goto", expr.VerdictContinue: "continue", expr.VerdictBreak: "break"}[k]
}

// opaqueWord names an expression the library does not decode: an
// iptables-nft match or target by its xtables name.
func opaqueWord(o *opaque) string {
	if o.name != "match" && o.name != "target" {
		return o.name
	}
	ad, err := netlink.NewAttributeDecoder(o.data)
	if err != nil {
		return o.name
	}
	for ad.Next() {
		if ad.Type() == unix.NFTA_MATCH_NAME { // NFTA_TARGET_NAME too
			return "xt " + o.name + " " + ad.String()
		}
	}
	return o.name
}
