package nft

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/ti-mo/conntrack"

	"kinn.dev/kinn/lab/kernel"
)

// Conn is one conntrack entry as a learner reads it: who asked for what,
// and where the proxy sent it (the reply tuple's source after DNAT).
type Conn struct {
	ID       uint32
	Proto    string
	Client   netip.AddrPort
	Dest     netip.AddrPort // as the client addressed it (a ClusterIP, say)
	Endpoint netip.AddrPort // where it went; equal to Dest when not NATed
	State    string
	Bytes    uint64
	Started  time.Time // zero unless conntrack timestamps are on
}

// Conns dumps a namespace's connection tracking table.
func Conns(netnsName string) ([]Conn, error) {
	var out []Conn
	err := kernel.Do(netnsName, func() error {
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
			out = append(out, connOf(f))
		}
		return nil
	})
	return out, err
}

func connOf(f conntrack.Flow) Conn {
	o, r := f.TupleOrig, f.TupleReply
	c := Conn{
		ID:       f.ID,
		Proto:    protoName(o.Proto.Protocol),
		Client:   netip.AddrPortFrom(o.IP.SourceAddress, o.Proto.SourcePort),
		Dest:     netip.AddrPortFrom(o.IP.DestinationAddress, o.Proto.DestinationPort),
		Endpoint: netip.AddrPortFrom(r.IP.SourceAddress, r.Proto.SourcePort),
		Bytes:    f.CountersOrig.Bytes + f.CountersReply.Bytes,
		State:    "-",
	}
	if f.ProtoInfo.TCP != nil {
		c.State = tcpStates[f.ProtoInfo.TCP.State%uint8(len(tcpStates))]
	} else if f.Status.SeenReply() {
		c.State = "REPLIED"
	} else {
		c.State = "UNREPLIED"
	}
	if f.Timestamp.Start != (time.Time{}) {
		c.Started = f.Timestamp.Start
	}
	return c
}

// tcpStates are conntrack's TCP states, by number.
var tcpStates = []string{"NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "CLOSE", "SYN_SENT2"}

func protoName(p uint8) string {
	switch p {
	case 1:
		return "ICMP"
	case 6:
		return "TCP"
	case 17:
		return "UDP"
	case 132:
		return "SCTP"
	}
	return fmt.Sprint(p)
}
