package nft

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/ti-mo/conntrack"

	"kinn.dev/kinn/lab/kernel"
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
	err := kernel.Do(netnsName, func() error {
		// The socket is created on this thread, inside the namespace.
		c, err := conntrack.Dial(nil)
		if err != nil {
			return fmt.Errorf("conntrack: %w", err)
		}
		defer c.Close()
		flows, err := c.Dump(nil)
		if err != nil {
			return fmt.Errorf("dump conntrack: %w", err)
		}
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
