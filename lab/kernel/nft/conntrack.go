package nft

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/ti-mo/conntrack"

	"kinn.dev/kinn/lab/kernel"
	"kinn.dev/kinn/lab/trace"
)

// FlushStaleUDP deletes the UDP conntrack entries of the named namespace
// whose original destination is vip:port and whose reply comes from one of
// stale (endpoints no longer serving). Without this, a UDP client that keeps
// its source port keeps being NATed to the dead endpoint for as long as it
// keeps sending. An invalid vip matches any destination: use that with a
// NodePort.
func FlushStaleUDP(netnsName string, vip netip.Addr, port uint16, stale []netip.Addr) error {
	if len(stale) == 0 {
		return nil
	}
	err := inConntrack(netnsName, func(c *conntrack.Conn, flows []conntrack.Flow) error {
		for _, f := range flows {
			if !staleUDP(f, vip, port, stale) {
				continue
			}
			if err := c.Delete(f); err != nil {
				return fmt.Errorf("delete conntrack entry: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("flush stale udp to %s:%d in %s: %w", vip, port, netnsName, err)
	}
	return nil
}

func staleUDP(f conntrack.Flow, vip netip.Addr, port uint16, stale []netip.Addr) bool {
	o, r := f.TupleOrig, f.TupleReply
	return o.Proto.Protocol == 17 && o.Proto.DestinationPort == port &&
		(!vip.IsValid() || o.IP.DestinationAddress == vip) &&
		slices.Contains(stale, r.IP.SourceAddress)
}

// ProbeFlows lists the conntrack entries of the named namespace whose
// original direction comes from client (for ICMP, client's port is the
// echo identifier): the entries one probe created there.
func ProbeFlows(netnsName string, proto uint8, client netip.AddrPort) ([]trace.Flow, error) {
	var out []trace.Flow
	err := inConntrack(netnsName, func(_ *conntrack.Conn, flows []conntrack.Flow) error {
		for _, f := range flows {
			o := f.TupleOrig
			if o.Proto.Protocol != proto || o.IP.SourceAddress != client.Addr() || probePort(o) != client.Port() {
				continue
			}
			out = append(out, traceFlow(netnsName, f))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("conntrack of %s: %w", netnsName, err)
	}
	return out, nil
}

func probePort(t conntrack.Tuple) uint16 {
	if t.Proto.Protocol == 1 {
		return t.Proto.ICMPID
	}
	return t.Proto.SourcePort
}

func traceFlow(netnsName string, f conntrack.Flow) trace.Flow {
	o, r := f.TupleOrig, f.TupleReply
	ap := func(a netip.Addr, p uint16) netip.AddrPort { return netip.AddrPortFrom(a, p) }
	tf := trace.Flow{Netns: netnsName, Proto: o.Proto.Protocol,
		OrigSrc: ap(o.IP.SourceAddress, o.Proto.SourcePort), OrigDst: ap(o.IP.DestinationAddress, o.Proto.DestinationPort),
		ReplySrc: ap(r.IP.SourceAddress, r.Proto.SourcePort), ReplyDst: ap(r.IP.DestinationAddress, r.Proto.DestinationPort),
		SeenReply: f.Status.SeenReply()}
	if f.ProtoInfo.TCP != nil {
		tf.State = tcpStates[f.ProtoInfo.TCP.State%uint8(len(tcpStates))]
	}
	return tf
}

// inConntrack dumps the named namespace's conntrack table and hands it to
// f with the connection, whose socket was created on a thread inside the
// namespace.
func inConntrack(netnsName string, f func(c *conntrack.Conn, flows []conntrack.Flow) error) error {
	return kernel.Do(netnsName, func() error {
		c, err := conntrack.Dial(nil)
		if err != nil {
			return fmt.Errorf("conntrack: %w", err)
		}
		defer c.Close()
		flows, err := c.Dump(nil)
		if err != nil {
			return fmt.Errorf("dump conntrack: %w", err)
		}
		return f(c, flows)
	})
}
