package lab

import (
	"cmp"
	"net/netip"
	"time"

	"kinn.dev/kinn/lab/kernel"
	"kinn.dev/kinn/lab/kernel/nft"
	"kinn.dev/kinn/lab/plan"
	"kinn.dev/kinn/topology"
)

// LinkSample is one link's cumulative counters, named for a learner: a
// pod (by its host veth), or a node's uplink, pod bridge or VTEP.
type LinkSample struct {
	Name                 string // namespace/pod, or node/device
	Kind                 string // pod, uplink, bridge, vxlan
	Node                 string
	RxBytes, TxBytes     uint64 // as the pod or node receives and sends
	RxPackets, TxPackets uint64
	Taken                time.Time
}

// LinkSamples reads the counters of every node's links, one dump per node.
// A pod's traffic is read on its host veth, where the directions swap: what
// the veth sends, the pod receives.
func (s *State) LinkSamples() ([]LinkSample, []error) {
	pods := map[string]plan.Pod{}
	for _, p := range s.Plan.Pods {
		pods[cmp.Or(p.HostLink, p.HostVeth, plan.HostVeth(p.ContainerID))] = p
	}
	var out []LinkSample
	var errs []error
	for _, n := range s.Plan.Nodes {
		stats, err := kernel.LinkStats(n.Netns)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		now := time.Now()
		for _, st := range stats {
			ls := LinkSample{Node: n.Name, RxBytes: st.RxBytes, TxBytes: st.TxBytes, RxPackets: st.RxPackets, TxPackets: st.TxPackets, Taken: now}
			switch {
			case pods[st.Name].Name != "":
				p := pods[st.Name]
				ls.Name, ls.Kind = p.Key(), "pod"
				ls.RxBytes, ls.TxBytes, ls.RxPackets, ls.TxPackets = st.TxBytes, st.RxBytes, st.TxPackets, st.RxPackets
			case st.Name == plan.NodeUplink:
				ls.Name, ls.Kind = n.Name+"/"+st.Name, "uplink"
			case st.Name == plan.PodBridge:
				ls.Name, ls.Kind = n.Name+"/"+st.Name, "bridge"
			case st.Kind == plan.KindVXLAN:
				ls.Name, ls.Kind = n.Name+"/"+st.Name, "vxlan"
			default:
				continue
			}
			out = append(out, ls)
		}
	}
	return out, errs
}

// ConnView is one tracked connection in a node, with the Service its
// destination belongs to.
type ConnView struct {
	Node     string
	Proto    string
	Client   netip.AddrPort
	Dest     netip.AddrPort
	Service  string // namespace/name when Dest is a ClusterIP or NodePort
	Endpoint netip.AddrPort
	State    string
	Bytes    uint64
	ID       uint32
	Started  time.Time // zero without conntrack timestamps
}

// ConnTracker keeps the conntrack connections of a live view open.
type ConnTracker struct{ t *nft.Tracker }

// NewConnTracker returns a tracker; Close it when done.
func NewConnTracker() *ConnTracker { return &ConnTracker{t: nft.NewTracker()} }

// Close releases its connections.
func (c *ConnTracker) Close() { c.t.Close() }

// Connections reads every node's conntrack table.
func (s *State) Connections(ct *ConnTracker) ([]ConnView, []error) {
	svc := map[netip.AddrPort]string{}
	nodePorts := map[uint16]string{}
	for _, sv := range s.Services {
		ip, _ := netip.ParseAddr(sv.Spec.ClusterIP)
		for _, p := range sv.Spec.Ports {
			svc[netip.AddrPortFrom(ip, uint16(p.Port))] = sv.Namespace + "/" + sv.Name
			if p.NodePort != 0 {
				nodePorts[uint16(p.NodePort)] = sv.Namespace + "/" + sv.Name
			}
		}
	}
	var out []ConnView
	errs := s.eachNodeConns(ct, func(n plan.Node, conns []nft.Conn) {
		for _, c := range conns {
			v := ConnView{Node: n.Name, Proto: c.Proto, Client: c.Client, Dest: c.Dest, Endpoint: c.Endpoint,
				State: c.State, Bytes: c.Bytes, ID: c.ID, Service: svc[c.Dest], Started: c.Started}
			if v.Service == "" && c.Dest.Addr() == n.Underlay.Addr() {
				v.Service = nodePorts[c.Dest.Port()]
			}
			out = append(out, v)
		}
	})
	return out, errs
}

// eachNodeConns hands f every node's tracked connections; a node whose
// table cannot be read is an error, and the others are still read.
func (s *State) eachNodeConns(ct *ConnTracker, f func(plan.Node, []nft.Conn)) []error {
	var errs []error
	for _, n := range s.Plan.Nodes {
		conns, err := ct.t.Conns(n.Netns)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		f(n, conns)
	}
	return errs
}

// TunnelSamples break a node's VXLAN traffic down by the node at the other
// end: each node's conntrack table tracks the overlay's own UDP packets
// (local underlay address to a peer's VXLAN port, and back), and their byte
// counts summed per peer are what went through the tunnel to and from it.
// Sums fall when idle flows expire; a reader treats a fall as no traffic.
func (s *State) TunnelSamples(ct *ConnTracker) ([]LinkSample, []error) {
	nw := s.Topology.Networking
	if nw.Overlay != topology.OverlayVXLAN {
		return nil, nil
	}
	byIP := map[netip.Addr]string{}
	for _, n := range s.Plan.Nodes {
		byIP[n.Underlay.Addr()] = n.Name
	}
	var out []LinkSample
	errs := s.eachNodeConns(ct, func(n plan.Node, conns []nft.Conn) {
		now, me := time.Now(), n.Underlay.Addr()
		rx, tx := map[string]uint64{}, map[string]uint64{}
		for _, c := range conns {
			if c.Proto != "UDP" || c.Dest.Port() != nw.VXLANPort {
				continue
			}
			switch {
			case c.Client.Addr() == me && byIP[c.Dest.Addr()] != "":
				tx[byIP[c.Dest.Addr()]] += c.Bytes
			case c.Dest.Addr() == me && byIP[c.Client.Addr()] != "":
				rx[byIP[c.Client.Addr()]] += c.Bytes
			}
		}
		for _, peer := range s.Plan.Nodes {
			if peer.Name == n.Name {
				continue
			}
			out = append(out, LinkSample{Name: n.Name + " <-> " + peer.Name, Kind: "tunnel", Node: n.Name,
				RxBytes: rx[peer.Name], TxBytes: tx[peer.Name], Taken: now})
		}
	})
	return out, errs
}
