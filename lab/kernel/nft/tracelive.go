package nft

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"kinn.dev/kinn/lab/proxy"
	"kinn.dev/kinn/lab/service"
)

// Tracing a real connection (kinn trace --live): there is no prober to set
// the DSCP, so the source namespace's trace table sets it itself, on the
// first new connection to the destination and on that connection only:
//
//   output:  meta l4proto P ip daddr D th dport N ct state new ip dscp 0
//              add @picked { th sport } ct label set L
//            ct label L ct direction original ip dscp set 0x2d
//            ...then InstallTrace's two rules
//
// @picked is a set of one element: the first connection's source port
// fills it, and the kernel's dynset stops the rule (it breaks) for any
// other port once the set is full, so a second connection is never
// picked; retransmissions of the first (same port) still are. From then
// on the packets carry the DSCP through every namespace exactly as a
// probe's do, and the other namespaces' ordinary trace tables follow it.
//
// The DSCP changes the program's packets on their way. Where the
// connection may end (the destination pods), a chain at the input hook,
// after every other, sets it back to 0, which is what it was (only a
// connection with DSCP 0 is picked), and clears the nftrace bit first so
// that the rewritten packet is not reported as another packet.

// LiveMatch is the connection a live trace waits for.
type LiveMatch struct {
	Proto service.Protocol // TCP or UDP
	Dst   netip.AddrPort   // as the source addresses it (a ClusterIP, a pod)
}

const (
	restorePriority = 300 // the input hook's last word, before the socket
	pickedSet       = "picked"
)

// InstallLiveTrace adds the trace table name to the source namespace of a
// live trace: InstallTrace's chains, with the picking of the connection
// and the setting of its DSCP before them in the output chain.
func InstallLiveTrace(netnsName, name string, dscp uint8, m LiveMatch) error {
	if !m.Dst.Addr().Is4() {
		return fmt.Errorf("live trace to %s: only IPv4 is traced", m.Dst)
	}
	return withConn(netnsName, func(c *nftables.Conn) error {
		t := c.AddTable(&nftables.Table{Name: name, Family: nftables.TableFamilyIPv4})
		s := &nftables.Set{Table: t, Name: pickedSet, KeyType: nftables.TypeInetService, Dynamic: true, Size: 1}
		if err := c.AddSet(s, nil); err != nil {
			return err
		}
		pick, err := pickRule(m, s)
		if err != nil {
			return err
		}
		for _, h := range []struct {
			name string
			hook *nftables.ChainHook
			pre  [][]expr.Any
		}{{"prerouting", nftables.ChainHookPrerouting, nil}, {"output", nftables.ChainHookOutput, [][]expr.Any{pick, setDSCP(dscp)}}} {
			ch := c.AddChain(&nftables.Chain{Name: h.name, Table: t, Type: nftables.ChainTypeFilter,
				Hooknum: h.hook, Priority: nftables.ChainPriorityRef(tracePriority)})
			for _, e := range append(h.pre, markProbe(dscp), markAnswer()) {
				c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: e})
			}
		}
		if err := c.Flush(); err != nil {
			return fmt.Errorf("add live trace table %s in %s: %w", name, netnsName, err)
		}
		return nil
	})
}

// pickRule labels the first new connection matching m, with DSCP 0.
func pickRule(m LiveMatch, s *nftables.Set) ([]expr.Any, error) {
	var out []expr.Any
	for _, e := range []proxy.Expr{proxy.L4Proto{Proto: m.Proto}, proxy.CtState{State: "new"}} {
		ex, err := encode(e)
		if err != nil {
			return nil, err
		}
		out = append(out, ex...)
	}
	dst := m.Dst.Addr().As4()
	out = append(out,
		loadDaddr, &expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: dst[:]},
		loadDport(reg1), &expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: binary.BigEndian.AppendUint16(nil, m.Dst.Port())},
	)
	out = append(out, dscpIs(0)...)
	return append(out,
		&expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 2}, // th sport
		&expr.Dynset{SrcRegKey: reg1, SetName: s.Name, SetID: s.ID, Operation: unix.NFT_DYNSET_OP_ADD},
		&expr.Immediate{Register: reg1, Data: traceLabel},
		&expr.Ct{Key: expr.CtKeyLABELS, Register: reg1, SourceRegister: true},
	), nil
}

// setDSCP gives the labelled connection's original direction the DSCP.
func setDSCP(dscp uint8) []expr.Any {
	e := append(hasLabel(),
		&expr.Ct{Key: expr.CtKeyDIRECTION, Register: reg1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte{0}}) // IP_CT_DIR_ORIGINAL
	return append(e, writeDSCP(dscp)...)
}

// InstallLiveRestore adds to the trace table name of a namespace where a
// live trace's connection may end a chain that gives its packets their
// DSCP 0 back, once everything before the socket has seen them.
func InstallLiveRestore(netnsName, name string, dscp uint8) error {
	return withConn(netnsName, func(c *nftables.Conn) error {
		t := c.AddTable(&nftables.Table{Name: name, Family: nftables.TableFamilyIPv4})
		ch := c.AddChain(&nftables.Chain{Name: "restore", Table: t, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityRef(restorePriority)})
		e := append(append(hasLabel(), dscpIs(dscp)...),
			&expr.Immediate{Register: reg1, Data: []byte{0}},
			&expr.Meta{Key: expr.MetaKeyNFTRACE, SourceRegister: true, Register: reg1})
		e = append(e, writeDSCP(0)...)
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: e})
		if err := c.Flush(); err != nil {
			return fmt.Errorf("add live trace restore chain to %s in %s: %w", name, netnsName, err)
		}
		return nil
	})
}

// dscpIs matches the TOS byte's upper six bits.
func dscpIs(dscp uint8) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseNetworkHeader, Offset: 1, Len: 1},
		&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 1, Mask: []byte{0xfc}, Xor: []byte{0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte{dscp << 2}},
	}
}

// writeDSCP sets the TOS byte's DSCP, keeps its ECN bits and fixes the
// header checksum. The write covers the whole 16-bit word (version, header
// length and TOS), as nft's `ip dscp set` does: the kernel updates the
// checksum by 16-bit words, and a lone byte at an odd offset would be
// summed as the high half of one, leaving a bad checksum.
func writeDSCP(dscp uint8) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseNetworkHeader, Offset: 0, Len: 2},
		&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 2, Mask: []byte{0xff, 0x03}, Xor: []byte{0, dscp << 2}},
		&expr.Payload{OperationType: expr.PayloadWrite, SourceRegister: reg1, Base: expr.PayloadBaseNetworkHeader,
			Offset: 0, Len: 2, CsumType: expr.CsumTypeInet, CsumOffset: 10},
	}
}
