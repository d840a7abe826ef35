package nft

import (
	"fmt"
	"os"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"

	"kinn.dev/kinn/lab/kernel"
	"kinn.dev/kinn/lab/trace"
)

// Tracing one probe (kinn trace): the kernel reports a packet's path
// through nf_tables only for packets whose nftrace bit is set, and the bit
// does not survive a change of namespace (a veth or a VXLAN tunnel hands
// the packet to another namespace's stack with the bit cleared). So every
// namespace the probe may cross gets a table of its own, kinn-trace-<id>,
// with two base chains (prerouting and output) and two rules:
//
//   ip dscp D ct label set L meta nftrace set 1   the probe itself, by its DSCP
//   ct label L meta nftrace set 1                  its answer, by its connection
//
// The answer (a SYN-ACK, an ICMP error) carries no DSCP of the prober's,
// so it is recognised by the connection the probe created: a conntrack
// label, a bit no one else in the lab uses (kinn and kube-proxy mark
// packets, not labels). The chains run at priority -150, after conntrack
// (-200) has attached the connection and before any NAT or filtering of
// kinn's (-110 and later). The table is deleted when the trace ends.

// TracePrefix starts the name of every trace table.
const TracePrefix = trace.TablePrefix

const tracePriority = -150

// traceLabel is the conntrack label bit that marks the probe's connection
// (bit 127 of the kernel's bitmap on a little-endian machine).
var traceLabel = func() []byte { b := make([]byte, 16); b[15] = 0x80; return b }()

// InstallTrace adds the trace table name to the named namespace, tracing
// IPv4 packets with the given DSCP and the replies of their connections.
func InstallTrace(netnsName, name string, dscp uint8) error {
	return withConn(netnsName, func(c *nftables.Conn) error {
		t := c.AddTable(&nftables.Table{Name: name, Family: nftables.TableFamilyIPv4})
		for _, h := range []struct {
			name string
			hook *nftables.ChainHook
		}{{"prerouting", nftables.ChainHookPrerouting}, {"output", nftables.ChainHookOutput}} {
			ch := c.AddChain(&nftables.Chain{Name: h.name, Table: t, Type: nftables.ChainTypeFilter,
				Hooknum: h.hook, Priority: nftables.ChainPriorityRef(tracePriority)})
			c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: markProbe(dscp)})
			c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: markAnswer()})
		}
		if err := c.Flush(); err != nil {
			return fmt.Errorf("add trace table %s in %s: %w", name, netnsName, err)
		}
		return nil
	})
}

func markProbe(dscp uint8) []expr.Any {
	return append(append(dscpIs(dscp),
		&expr.Immediate{Register: 1, Data: traceLabel},
		&expr.Ct{Key: expr.CtKeyLABELS, Register: 1, SourceRegister: true},
	), setNftrace()...)
}

func markAnswer() []expr.Any {
	return append(hasLabel(), setNftrace()...)
}

// hasLabel matches the packets of a connection labelled for the trace.
func hasLabel() []expr.Any {
	return []expr.Any{
		&expr.Ct{Key: expr.CtKeyLABELS, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 16, Mask: traceLabel, Xor: make([]byte, 16)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 16)},
	}
}

func setNftrace() []expr.Any {
	return []expr.Any{
		&expr.Immediate{Register: 1, Data: []byte{1}},
		&expr.Meta{Key: expr.MetaKeyNFTRACE, SourceRegister: true, Register: 1},
	}
}

// RemoveTraces deletes the trace tables of the named namespace: the one
// named, or every kinn-trace-* table when name is "" (what a killed trace
// left behind). A missing namespace has none. It returns the tables removed.
func RemoveTraces(netnsName, name string) ([]string, error) {
	if !kernel.NetnsExists(netnsName) {
		return nil, nil
	}
	var gone []string
	err := withConn(netnsName, func(c *nftables.Conn) error {
		ts, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
		if err != nil {
			return fmt.Errorf("list tables in %s: %w", netnsName, err)
		}
		for _, t := range ts {
			if t.Name == name || (name == "" && strings.HasPrefix(t.Name, TracePrefix)) {
				c.DelTable(t)
				gone = append(gone, t.Name)
			}
		}
		if len(gone) == 0 {
			return nil
		}
		if err := c.Flush(); err != nil {
			return fmt.Errorf("delete trace tables %v in %s: %w", gone, netnsName, err)
		}
		return nil
	})
	return gone, err
}

// withConn runs f with a one-off nf_tables connection whose socket lives
// in the named namespace.
func withConn(netnsName string, f func(c *nftables.Conn) error) error {
	ns, err := os.Open(kernel.NetnsPath(netnsName))
	if err != nil {
		return fmt.Errorf("open namespace %s: %w", netnsName, err)
	}
	defer ns.Close()
	c, err := nftables.New(nftables.WithNetNSFd(int(ns.Fd())))
	if err != nil {
		return fmt.Errorf("nftables in %s: %w", netnsName, err)
	}
	return f(c)
}
