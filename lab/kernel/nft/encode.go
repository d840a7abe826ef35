package nft

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"

	"kinn.dev/kinn/lab/proxy"
)

// Registers. A concatenated key is loaded field by field into consecutive
// 32-bit registers, starting at the first (reg 1 is the 16-byte register
// that overlays 32-bit registers 8-11).
const (
	reg1       = unix.NFT_REG_1
	reg2       = unix.NFT_REG_2
	regConcat1 = unix.NFT_REG32_01
	regConcat2 = unix.NFT_REG32_02
	regConcat3 = unix.NFT_REG32_03
)

var (
	serviceIPType = nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeInetProto, nftables.TypeInetService)
	nodePortType  = nftables.MustConcatSetType(nftables.TypeInetProto, nftables.TypeInetService)
	addrGroupType = nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeMark)
	namedPortType = nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeInetProto, nftables.TypeInetService, nftables.TypeMark)
)

func hooked(t *nftables.Table, c *proxy.Chain) *nftables.Chain {
	nc := &nftables.Chain{Name: c.Name, Table: t}
	if h := c.Hook; h != nil {
		nc.Type = nftables.ChainType(h.Type)
		nc.Hooknum = map[string]*nftables.ChainHook{
			"prerouting": nftables.ChainHookPrerouting, "input": nftables.ChainHookInput,
			"forward": nftables.ChainHookForward, "output": nftables.ChainHookOutput,
			"postrouting": nftables.ChainHookPostrouting,
		}[h.Hook]
		nc.Priority = nftables.ChainPriorityRef(nftables.ChainPriority(h.Priority))
		accept := nftables.ChainPolicyAccept
		nc.Policy = &accept
	}
	return nc
}

// set describes a proxy map as the nftables library wants it.
func set(t *nftables.Table, m *proxy.Map) *nftables.Set {
	s := &nftables.Set{Table: t, Name: m.Name, Comment: m.Comment}
	switch m.Key {
	case proxy.KeyServiceIP:
		s.KeyType, s.Concatenation = serviceIPType, true
	case proxy.KeyNodePort:
		s.KeyType, s.Concatenation = nodePortType, true
	case proxy.KeyIndex:
		// numgen leaves a host-order integer in its register.
		s.KeyType, s.KeyByteOrder = nftables.TypeInteger, binaryutil.NativeEndian
	case proxy.KeyAddr:
		s.KeyType = nftables.TypeIPAddr
		if m.IsDynamic() {
			s.HasTimeout, s.Timeout, s.Dynamic = true, m.Timeout, true
		}
		return s
	case proxy.KeyAddrVerdict:
		s.KeyType = nftables.TypeIPAddr
	case proxy.KeyAddrGroup, proxy.KeyRangeGroup, proxy.KeyNamedPort:
		return groupSet(s, m.Key)
	}
	s.IsMap, s.DataType = true, nftables.TypeVerdict
	return s
}

func elems(m *proxy.Map) []nftables.SetElement {
	out := make([]nftables.SetElement, len(m.Elems))
	for i, e := range m.Elems {
		out[i] = nftables.SetElement{Key: key(m.Key, e.Key), KeyEnd: keyEnd(m.Key, e.Key)}
		if !m.IsSet() {
			out[i].VerdictData = verdict(e.Verdict)
		}
	}
	return out
}

// key encodes a map key the way the rule's registers hold it: concatenated
// fields each padded to 4 bytes, ports in network order.
func key(kind proxy.KeyKind, k proxy.Key) []byte {
	port := func(p uint16) []byte { return []byte{byte(p >> 8), byte(p), 0, 0} }
	proto := []byte{proxy.ProtoNumber(k.Proto), 0, 0, 0}
	switch kind {
	case proxy.KeyServiceIP:
		ip := k.Addr.As4()
		return append(append(ip[:], proto...), port(k.Port)...)
	case proxy.KeyNodePort:
		return append(proto, port(k.Port)...)
	case proxy.KeyIndex:
		return binaryutil.NativeEndian.PutUint32(k.Index)
	case proxy.KeyAddrGroup, proxy.KeyRangeGroup:
		ip := k.Addr.As4()
		return append(ip[:], ne32(k.Group)...)
	case proxy.KeyNamedPort:
		ip := k.Addr.As4()
		return append(append(append(ip[:], proto...), port(k.Port)...), ne32(k.Group)...)
	}
	ip := k.Addr.As4()
	return ip[:]
}

func verdict(v proxy.Verdict) *expr.Verdict {
	switch v.Kind {
	case proxy.Drop:
		return &expr.Verdict{Kind: expr.VerdictDrop}
	case proxy.Return:
		return &expr.Verdict{Kind: expr.VerdictReturn}
	case proxy.Jump:
		return &expr.Verdict{Kind: expr.VerdictJump, Chain: v.Chain}
	case proxy.Goto:
		return &expr.Verdict{Kind: expr.VerdictGoto, Chain: v.Chain}
	}
	return &expr.Verdict{Kind: expr.VerdictAccept}
}

func rule(t *nftables.Table, chain string, r proxy.Rule) (*nftables.Rule, error) {
	nr := &nftables.Rule{Table: t, Chain: &nftables.Chain{Name: chain, Table: t}}
	for _, e := range r.Exprs {
		es, err := encode(e)
		if err != nil {
			return nil, fmt.Errorf("chain %s: %w", chain, err)
		}
		nr.Exprs = append(nr.Exprs, es...)
	}
	if r.Comment != "" {
		nr.UserData = userdata.AppendString(nil, userdata.TypeComment, r.Comment)
	}
	return nr, nil
}

// Loads of packet fields.
var (
	loadSaddr = &expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4}
	loadDaddr = &expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4}
)

func loadDport(reg uint32) expr.Any {
	return &expr.Payload{DestRegister: reg, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2}
}

func ne32(v uint32) []byte { return binaryutil.NativeEndian.PutUint32(v) }

// encode turns one proxy expression into netlink expressions.
func encode(e proxy.Expr) ([]expr.Any, error) {
	switch e := e.(type) {
	case proxy.Counter:
		return []expr.Any{&expr.Counter{}}, nil
	case proxy.Verdict:
		return []expr.Any{verdict(e)}, nil
	case proxy.CtState:
		bit, err := ctStateBits(e.State)
		if err != nil {
			return nil, err
		}
		return []expr.Any{
			&expr.Ct{Register: reg1, Key: expr.CtKeySTATE},
			&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4, Mask: ne32(bit), Xor: ne32(0)},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: reg1, Data: ne32(0)},
		}, nil
	case proxy.L4Proto:
		return []expr.Any{
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte{proxy.ProtoNumber(e.Proto)}},
		}, nil
	case proxy.SaddrIs:
		ip := e.Addr.As4()
		return []expr.Any{loadSaddr, &expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: ip[:]}}, nil
	case proxy.FibLocal:
		return []expr.Any{
			&expr.Fib{Register: reg1, FlagSADDR: e.Source, FlagDADDR: !e.Source, ResultADDRTYPE: true},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: ne32(unix.RTN_LOCAL)},
		}, nil
	case proxy.IifName:
		name := make([]byte, unix.IFNAMSIZ)
		copy(name, e.Name)
		op := expr.CmpOpEq
		if e.Not {
			op = expr.CmpOpNeq
		}
		return []expr.Any{&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: reg1}, &expr.Cmp{Op: op, Register: reg1, Data: name}}, nil
	case proxy.SaddrPrefix:
		return prefixMatch(loadSaddr, e.Prefix, e.Not)
	case proxy.DaddrPrefix:
		return prefixMatch(loadDaddr, e.Prefix, false)
	case proxy.DaddrIn:
		return []expr.Any{loadDaddr, &expr.Lookup{SourceRegister: reg1, SetName: e.Set}}, nil
	case proxy.SaddrIn:
		return []expr.Any{loadSaddr, &expr.Lookup{SourceRegister: reg1, SetName: e.Set}}, nil
	case proxy.UpdateSaddr:
		return []expr.Any{loadSaddr, &expr.Dynset{SrcRegKey: reg1, SetName: e.Set, Operation: unix.NFT_DYNSET_OP_UPDATE, Timeout: e.Timeout}}, nil
	case proxy.MarkMasq:
		return setMark(^uint32(proxy.MasqMark), proxy.MasqMark), nil
	case proxy.MarkClear:
		return setMark(^uint32(0), proxy.MasqMark), nil
	case proxy.MarkUnset:
		return []expr.Any{
			&expr.Meta{Key: expr.MetaKeyMARK, Register: reg1},
			&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4, Mask: ne32(proxy.MasqMark), Xor: ne32(0)},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: ne32(0)},
		}, nil
	case proxy.Masquerade:
		return []expr.Any{&expr.Masq{FullyRandom: true}}, nil
	case proxy.DNAT:
		ip := e.Addr.As4()
		return []expr.Any{
			&expr.Immediate{Register: reg1, Data: ip[:]},
			&expr.Immediate{Register: reg2, Data: binary.BigEndian.AppendUint16(nil, e.Port)},
			&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: reg1, RegProtoMin: reg2, Specified: true},
		}, nil
	case proxy.Reject:
		return []expr.Any{&expr.Reject{Type: unix.NFT_REJECT_ICMP_UNREACH, Code: 3}}, nil // port unreachable
	case proxy.Vmap:
		return vmap(e), nil
	case proxy.RandomIs:
		return []expr.Any{
			&expr.Numgen{Register: reg1, Modulus: e.Mod, Type: unix.NFT_NG_RANDOM},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: ne32(0)},
		}, nil
	}
	return encodePolicy(e)
}

// prefixMatch compares the loaded address, masked to the prefix's length,
// with the prefix, as nft writes `ip saddr 10.244.0.0/16`.
func prefixMatch(load expr.Any, p netip.Prefix, not bool) ([]expr.Any, error) {
	if !p.Addr().Is4() {
		return nil, fmt.Errorf("prefix %s is not IPv4", p)
	}
	m := net.CIDRMask(p.Bits(), 32)
	addr := p.Masked().Addr().As4()
	op := expr.CmpOpEq
	if not {
		op = expr.CmpOpNeq
	}
	return []expr.Any{
		load,
		&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4, Mask: m, Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: op, Register: reg1, Data: addr[:]},
	}, nil
}

// setMark computes mark = (mark & and) ^ xor.
func setMark(and, xor uint32) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyMARK, Register: reg1},
		&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4, Mask: ne32(and), Xor: ne32(xor)},
		&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: reg1},
	}
}

func vmap(e proxy.Vmap) []expr.Any {
	lookup := &expr.Lookup{SourceRegister: reg1, DestRegister: 0, IsDestRegSet: true, SetName: e.Map}
	switch e.Key {
	case proxy.KeyServiceIP:
		return []expr.Any{
			loadDaddr,
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: regConcat1},
			loadDport(regConcat2),
			lookup,
		}
	case proxy.KeyNodePort:
		return []expr.Any{&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg1}, loadDport(regConcat1), lookup}
	case proxy.KeyAddrVerdict:
		load := loadDaddr
		if e.Source {
			load = loadSaddr
		}
		return []expr.Any{load, lookup}
	}
	return []expr.Any{&expr.Numgen{Register: reg1, Modulus: e.Mod, Type: unix.NFT_NG_RANDOM}, lookup}
}
