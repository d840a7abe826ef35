package kernel

import (
	"kinn.dev/kinn/lab/plan"
)

// LinkStat is one link's cumulative counters.
type LinkStat struct {
	Name                 string
	Kind                 plan.LinkKind // veth, bridge, vxlan, loopback
	Master               string        // the bridge it is on, if any
	RxBytes, TxBytes     uint64
	RxPackets, TxPackets uint64
}

// LinkStats reads every link's counters in a namespace with one dump: in a
// node that is its uplink, bridge, VTEP and every pod's host veth, so the
// Traffic screen costs one netlink request per node and refresh.
func LinkStats(netnsName string) ([]LinkStat, error) {
	h, err := handle(netnsName)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	links, err := linkList(h)
	if err != nil {
		return nil, err
	}
	names := map[int]string{}
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	var out []LinkStat
	for _, l := range links {
		a := l.Attrs()
		st := LinkStat{Name: a.Name, Kind: plan.LinkKind(l.Type()), Master: names[a.MasterIndex]}
		if s := a.Statistics; s != nil {
			st.RxBytes, st.TxBytes, st.RxPackets, st.TxPackets = s.RxBytes, s.TxBytes, s.RxPackets, s.TxPackets
		}
		out = append(out, st)
	}
	return out, nil
}
