package lab

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
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

// LinkSamples reads the counters of every node's links, one dump per node,
// the nodes at once; a node that has not answered when ctx ends is an
// error, and the others still count. A pod's traffic is read on its host
// veth, where the directions swap: what the veth sends, the pod receives.
func (s *State) LinkSamples(ctx context.Context) ([]LinkSample, []error) {
	pods := map[string]plan.Pod{}
	for _, p := range s.Plan.Pods {
		pods[cmp.Or(p.HostLink, p.HostVeth, plan.HostVeth(p.ContainerID))] = p
	}
	type dump struct {
		stats []kernel.LinkStat
		taken time.Time
	}
	dumps, errs := perNode(ctx, s.Plan.Nodes, func(ctx context.Context, n plan.Node) (dump, error) {
		return bounded(ctx, "link stats "+n.Netns, func() (dump, error) {
			stats, err := kernel.LinkStats(n.Netns)
			return dump{stats, time.Now()}, err
		})
	})
	var out []LinkSample
	for i, n := range s.Plan.Nodes {
		stats, now := dumps[i].stats, dumps[i].taken
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
	return out, slices.DeleteFunc(errs, func(err error) bool { return err == nil })
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
func (s *State) Connections(ctx context.Context, ct *ConnTracker) ([]ConnView, []error) {
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
	errs := s.eachNodeConns(ctx, ct, func(n plan.Node, conns []nft.Conn) {
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
// table cannot be read before ctx ends is an error, and the others are
// still read.
func (s *State) eachNodeConns(ctx context.Context, ct *ConnTracker, f func(plan.Node, []nft.Conn)) []error {
	conns, errs := perNode(ctx, s.Plan.Nodes, func(ctx context.Context, n plan.Node) ([]nft.Conn, error) {
		return ct.t.Conns(ctx, n.Netns)
	})
	for i, n := range s.Plan.Nodes {
		if errs[i] == nil {
			f(n, conns[i])
		}
	}
	return slices.DeleteFunc(errs, func(err error) bool { return err == nil })
}

// TunnelSamples break a node's VXLAN traffic down by the node at the other
// end: each node's conntrack table tracks the overlay's own UDP packets
// (local underlay address to a peer's VXLAN port, and back), and their byte
// counts summed per peer are what went through the tunnel to and from it.
// Sums fall when idle flows expire; a reader treats a fall as no traffic.
func (s *State) TunnelSamples(ctx context.Context, ct *ConnTracker) ([]LinkSample, []error) {
	nw := s.Topology.Networking
	if nw.Overlay != topology.OverlayVXLAN {
		return nil, nil
	}
	byIP := map[netip.Addr]string{}
	for _, n := range s.Plan.Nodes {
		byIP[n.Underlay.Addr()] = n.Name
	}
	var out []LinkSample
	errs := s.eachNodeConns(ctx, ct, func(n plan.Node, conns []nft.Conn) {
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

// perNode runs read for every node at once, and returns the results and
// errors in the nodes' order. read must return when ctx ends.
func perNode[T any](ctx context.Context, nodes []plan.Node, read func(context.Context, plan.Node) (T, error)) ([]T, []error) {
	out, errs := make([]T, len(nodes)), make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() {
			v, err := read(ctx, n)
			out[i] = v
			if err != nil {
				errs[i] = fmt.Errorf("node %s: %w", n.Name, err)
			}
		})
	}
	wg.Wait()
	return out, errs
}

// reads are the live views' kernel reads in flight, by what they read. A
// read runs in a goroutine of its own and its callers wait for it only
// until their contexts end; a caller that comes while it runs shares it. So
// a read the kernel does not answer holds one goroutine, not one per
// refresh, and no caller.
var reads = struct {
	mu sync.Mutex
	m  map[string]*read
}{m: map[string]*read{}}

type read struct {
	done chan struct{}
	v    any
	err  error
}

// bounded runs f as the read key (or joins it, if it runs) and waits for it
// until ctx ends.
func bounded[T any](ctx context.Context, key string, f func() (T, error)) (T, error) {
	reads.mu.Lock()
	r := reads.m[key]
	if r == nil {
		r = &read{done: make(chan struct{})}
		reads.m[key] = r
		go func() {
			r.v, r.err = f()
			reads.mu.Lock()
			delete(reads.m, key)
			reads.mu.Unlock()
			close(r.done)
		}()
	}
	reads.mu.Unlock()
	select {
	case <-r.done:
		v, _ := r.v.(T)
		return v, r.err
	case <-ctx.Done():
		var zero T
		return zero, fmt.Errorf("%s: %w", key, ctx.Err())
	}
}
