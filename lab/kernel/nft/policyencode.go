package nft

import (
	"encoding/binary"
	"fmt"
	"github.com/mdlayher/netlink"
	"net/netip"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"kinn.dev/kinn/lab/proxy"
)

// Encoding of the NetworkPolicy building blocks (proxy/policyexpr.go).
// The id half of a concatenated lookup is an immediate loaded into the
// register after the packet fields, as nft itself writes
// `ip saddr . 0x11 @peers`: the kernel's lookup reads the registers as one
// key and cares not where they came from (TestConcatImmediateLookup proves
// it on this kernel). The id is typed mark, host-endian like meta mark,
// in every set. (nft itself keeps a host-order field of an interval set
// big-endian, so `nft list` shows the ids of KeyRangeGroup elements
// byte-swapped, 0x22000000 for 0x22; it cannot parse a constant in a
// concatenation at all, and lists the rules' ids as "[invalid type]".
// kinn's own views, Rule.String and ruleText, agree with each other.)

// groupSet fills in a set of address . id (and for named ports protocol
// and port): concatenated, and for ranges an interval set (pipapo), whose
// elements carry their last key too.
func groupSet(s *nftables.Set, kind proxy.KeyKind) *nftables.Set {
	s.KeyType, s.Concatenation = addrGroupType, true
	switch kind {
	case proxy.KeyRangeGroup:
		s.Interval = true
	case proxy.KeyNamedPort:
		s.KeyType = namedPortType
	}
	return s
}

// keyEnd is an interval element's last key; nil for other kinds.
func keyEnd(kind proxy.KeyKind, k proxy.Key) []byte {
	if kind != proxy.KeyRangeGroup {
		return nil
	}
	last := k.Last
	if !last.IsValid() {
		last = k.Addr
	}
	ip := last.As4()
	return append(ip[:], ne32(k.Group)...)
}

var ctStateNames = map[string]uint32{
	"new": expr.CtStateBitNEW, "invalid": expr.CtStateBitINVALID,
	"established": expr.CtStateBitESTABLISHED, "related": expr.CtStateBitRELATED,
}

// ctStateBits is the state bitmask of "a,b,...": any of them matches.
func ctStateBits(states string) (uint32, error) {
	var bits uint32
	for _, s := range strings.Split(states, ",") {
		b, ok := ctStateNames[s]
		if !ok {
			return 0, fmt.Errorf("unknown ct state %q", s)
		}
		bits |= b
	}
	return bits, nil
}

// labelBits is the 16-byte label bitmap with one bit set, as the kernel
// holds it (bit n in byte n/8, little-endian bits, like nft's).
func labelBits(bit uint8) []byte {
	b := make([]byte, 16)
	b[bit/8] = 1 << (bit % 8)
	return b
}

func encodePolicy(e proxy.Expr) ([]expr.Any, error) {
	switch e := e.(type) {
	case proxy.Log:
		if len(e.Prefix) > proxy.MaxLogPrefix {
			return nil, fmt.Errorf("log prefix %q longer than %d bytes", e.Prefix, proxy.MaxLogPrefix)
		}
		return []expr.Any{&expr.Log{Key: 1<<unix.NFTA_LOG_GROUP | 1<<unix.NFTA_LOG_PREFIX, Group: e.Group, Data: []byte(e.Prefix)}}, nil
	case proxy.CtLabelSet:
		if e.Bit > proxy.MaxLabelBit {
			return nil, fmt.Errorf("ct label %d out of range", e.Bit)
		}
		return []expr.Any{
			&expr.Immediate{Register: reg1, Data: labelBits(e.Bit)},
			&expr.Ct{Key: expr.CtKeyLABELS, Register: reg1, SourceRegister: true},
		}, nil
	case proxy.CtLabel:
		if e.Bit > proxy.MaxLabelBit {
			return nil, fmt.Errorf("ct label %d out of range", e.Bit)
		}
		return []expr.Any{
			&expr.Ct{Key: expr.CtKeyLABELS, Register: reg1},
			&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 16, Mask: labelBits(e.Bit), Xor: make([]byte, 16)},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: reg1, Data: make([]byte, 16)},
		}, nil
	case proxy.Dport:
		return dport(e)
	case proxy.AddrGroupIn:
		load := loadDaddr
		if e.Source {
			load = loadSaddr
		}
		return []expr.Any{
			load,
			&expr.Immediate{Register: regConcat1, Data: ne32(e.Group)},
			&expr.Lookup{SourceRegister: reg1, SetName: e.Set},
		}, nil
	case proxy.NamedPortIn:
		return []expr.Any{
			loadDaddr,
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: regConcat1},
			loadDport(regConcat2),
			&expr.Immediate{Register: regConcat3, Data: ne32(e.Name)},
			&expr.Lookup{SourceRegister: reg1, SetName: e.Set},
		}, nil
	}
	return nil, fmt.Errorf("cannot encode %T", e)
}

// dport compares the destination port with one value, or with a range
// as nft writes `th dport 8000-8100`: two comparisons, big-endian bounds.
func dport(e proxy.Dport) ([]expr.Any, error) {
	if e.Last < e.First {
		return nil, fmt.Errorf("port range %d-%d is empty", e.First, e.Last)
	}
	first, last := binaryutil.BigEndian.PutUint16(e.First), binaryutil.BigEndian.PutUint16(e.Last)
	if e.First == e.Last {
		return []expr.Any{loadDport(reg1), &expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: first}}, nil
	}
	return []expr.Any{
		loadDport(reg1),
		&expr.Cmp{Op: expr.CmpOpGte, Register: reg1, Data: first},
		&expr.Cmp{Op: expr.CmpOpLte, Register: reg1, Data: last},
	}, nil
}

// decodeGroupElem reads back an element of an address . id set, the
// inverse of key and keyEnd.
func decodeGroupElem(kind proxy.KeyKind, e nftables.SetElement) (proxy.Elem, error) {
	want := 8
	if kind == proxy.KeyNamedPort {
		want = 16
	}
	b := e.Key
	if len(b) != want || (kind == proxy.KeyRangeGroup && len(e.KeyEnd) != want) {
		return proxy.Elem{}, fmt.Errorf("element %x-%x: not of %s", e.Key, e.KeyEnd, setKindName(kind))
	}
	k := proxy.Key{Addr: netip.AddrFrom4([4]byte(b[:4])), Group: binary.NativeEndian.Uint32(b[want-4:])}
	switch kind {
	case proxy.KeyRangeGroup:
		k.Last = netip.AddrFrom4([4]byte(e.KeyEnd[:4]))
		if g := binary.NativeEndian.Uint32(e.KeyEnd[4:]); g != k.Group {
			return proxy.Elem{}, fmt.Errorf("element %x-%x: spans ids %d to %d", e.Key, e.KeyEnd, k.Group, g)
		}
	case proxy.KeyNamedPort:
		p, ok := protocols[b[4]]
		if !ok {
			return proxy.Elem{}, fmt.Errorf("element %x: protocol %d", e.Key, b[4])
		}
		k.Proto, k.Port = p, binary.BigEndian.Uint16(b[8:10])
	}
	return proxy.Elem{Key: k}, nil
}

func setKindName(kind proxy.KeyKind) string {
	return map[proxy.KeyKind]string{proxy.KeyAddrGroup: "address . id", proxy.KeyRangeGroup: "address range . id",
		proxy.KeyNamedPort: "address . protocol . port . id"}[kind]
}

// ctSource completes a ct expression read back: the library reads a
// load's destination register but not a set's source register, so `ct
// label set` would read back as a load of the labels.
func ctSource(ct *expr.Ct, data []byte) {
	ad, err := netlink.NewAttributeDecoder(data)
	if err != nil {
		return
	}
	ad.ByteOrder = binary.BigEndian
	for ad.Next() {
		if ad.Type() == unix.NFTA_CT_SREG {
			ct.Register, ct.SourceRegister = ad.Uint32(), true
		}
	}
}
