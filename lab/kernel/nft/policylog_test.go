package nft

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/mdlayher/netlink"
	"github.com/ti-mo/conntrack"
	"github.com/ti-mo/netfilter"

	"kinn.dev/kinn/lab/kernel"
	"kinn.dev/kinn/lab/service"
)

// NFLOG's netlink protocol (linux/netfilter/nfnetlink_log.h), which
// x/sys/unix does not carry.
const (
	nfulnlMsgPacket  = 0
	nfulnlMsgConfig  = 1
	nfulaCfgCmd      = 1
	nfulnlCfgCmdBind = 1
	nfulaCfgQthresh  = 5
	nfulaPrefix      = 10
)

// nflogPrefixes binds a NETLINK_NETFILTER socket in the named namespace to
// an NFLOG group and returns a function that reads the prefixes of the
// messages received within wait.
func nflogPrefixes(t *testing.T, netnsName string, group uint16) func(wait time.Duration) []string {
	t.Helper()
	var c *netfilter.Conn
	err := kernel.Do(netnsName, func() error {
		var err error
		c, err = netfilter.Dial(nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	bind, err := netfilter.MarshalNetlink(netfilter.Header{
		Flags: netlink.Request | netlink.Acknowledge, SubsystemID: netfilter.NFSubsysULOG,
		MessageType: nfulnlMsgConfig, Family: netfilter.ProtoUnspec, ResourceID: group,
	}, []netfilter.Attribute{
		{Type: nfulaCfgCmd, Data: []byte{nfulnlCfgCmdBind}},
		// Each message at once: the default batches up to 100 for 1 s.
		{Type: nfulaCfgQthresh, Data: netfilter.Uint32Bytes(1)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Query(bind); err != nil {
		t.Fatalf("bind nflog group %d: %v", group, err)
	}
	return func(wait time.Duration) []string {
		var out []string
		c.SetReadDeadline(time.Now().Add(wait))
		for {
			msgs, err := c.Receive()
			if err != nil {
				return out // the deadline
			}
			for _, m := range msgs {
				h, attrs, err := netfilter.UnmarshalNetlink(m)
				if err != nil || h.SubsystemID != netfilter.NFSubsysULOG || h.MessageType != nfulnlMsgPacket {
					continue
				}
				for _, a := range attrs {
					if a.Type == nfulaPrefix {
						out = append(out, string(trimNUL(a.Data)))
					}
				}
			}
		}
	}
}

func trimNUL(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return b
}

// labelled lists the conntrack entries of the named namespace toward dst
// whose labels have bit set.
func labelled(netnsName string, dst netip.AddrPort, bit int) ([]string, error) {
	var out []string
	err := inConntrack(netnsName, func(_ *conntrack.Conn, flows []conntrack.Flow) error {
		for _, f := range flows {
			o := f.TupleOrig
			if o.IP.DestinationAddress != dst.Addr() || o.Proto.DestinationPort != dst.Port() {
				continue
			}
			if bit/8 < len(f.Labels) && f.Labels[bit/8]&(1<<(bit%8)) != 0 {
				out = append(out, fmt.Sprintf("%s:%d", o.IP.SourceAddress, o.Proto.SourcePort))
			}
		}
		return nil
	})
	return out, err
}

// TestPolicyVerdictLogAndLabel: an allowed connection is logged to the
// NFLOG group with its rule's prefix and its conntrack entry carries the
// rule's label bit; a denied one is logged with the pod's drop prefix and
// labelled nothing.
func TestPolicyVerdictLogAndLabel(t *testing.T) {
	f := newFixture(t)
	read := nflogPrefixes(t, f.node, logGroup)
	if err := f.table.Load(policyRuleset()); err != nil {
		t.Fatal(err)
	}
	f.expect("allowed", probe{"p1", service.TCP, true})
	if got := read(200 * time.Millisecond); !slices.Contains(got, "np A I p1") || slices.Contains(got, "np D I p1") {
		t.Errorf("allowed connection logged %q, want \"np A I p1\" only", got)
	}
	p1 := netip.MustParseAddrPort(pods["p1"] + ":8080")
	if got, err := labelled(f.node, p1, acceptBit); err != nil || len(got) != 1 {
		t.Errorf("entries to p1 with label %d: %v, %v; want the one connection", acceptBit, got, err)
	}
	if got, err := labelled(f.node, p1, acceptBit+1); err != nil || len(got) != 0 {
		t.Errorf("entries to p1 with label %d: %v, %v; want none", acceptBit+1, got, err)
	}
	f.expect("denied", probe{"p1", service.UDP, false})
	if got := read(200 * time.Millisecond); !slices.Contains(got, "np D I p1") || slices.Contains(got, "np A I p1") {
		t.Errorf("denied datagram logged %q, want \"np D I p1\" only", got)
	}
}
