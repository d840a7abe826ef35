package lab

import (
	"cmp"
	"net/netip"

	"kinn.dev/kinn/lab/kernel"
	"kinn.dev/kinn/lab/plan"
	"kinn.dev/kinn/lab/trace"
)

// traceLayer2 reads, for every route the request and the answer took, the
// neighbour, FDB and VXLAN entries the kernel used with it (after the
// probe: the tables kinn programs are permanent, and what a bridge or ARP
// learned for the probe is still fresh).
func traceLayer2(in *trace.Input) error {
	for _, dir := range []struct {
		routes  map[string]trace.Route
		request bool
	}{{in.Routes, true}, {in.Back, false}} {
		seen := trace.PacketSeen(*in, dir.request)
		for key, r := range dir.routes {
			// key is a visit (trace.VisitKey); the namespace is the
			// route's own.
			l2, err := kernel.Layer2(cmp.Or(seen[key].Netns, key), r, seen[key].DstMAC)
			if err != nil {
				return err
			}
			r.L2 = l2
			dir.routes[key] = r
		}
	}
	return nil
}

// tracePlanned is what kinn programs in each namespace, in the trace's
// terms, and the pods by address: the nodes' routes (with the connected
// routes of their addresses), neighbours and FDB entries from the plan;
// with kinn's own CNI plugin, the static neighbours it sets both ways
// between a pod and its node's bridge; and what is behind each bridge port.
func (s *State) tracePlanned() (map[string]trace.Planned, map[netip.Addr]string) {
	out := map[string]trace.Planned{}
	pods := map[netip.Addr]string{}
	sw := trace.Planned{Ports: map[string]string{}}
	for _, p := range s.Plan.Switch.Ports {
		sw.Ports[p.Name] = "node " + p.Node
	}
	out[s.Plan.Switch.Netns] = sw
	bridgeMAC := map[string]string{}
	for _, n := range s.Plan.Nodes {
		pl := trace.Planned{Ports: map[string]string{}}
		for _, r := range n.Routes {
			pl.Routes = append(pl.Routes, trace.PlannedRoute{Dst: r.Dst, Gw: r.Gw, Dev: r.Dev, Onlink: r.Onlink})
		}
		for _, l := range n.Links {
			for _, a := range l.Addrs {
				if a.Bits() < a.Addr().BitLen() {
					pl.Routes = append(pl.Routes, trace.PlannedRoute{Dst: a.Masked(), Dev: l.Name})
				}
			}
			if l.Name == plan.PodBridge {
				bridgeMAC[n.Name] = l.MAC
			}
		}
		for _, nb := range n.Neigh {
			pl.Neigh = append(pl.Neigh, trace.Neigh{Dev: nb.Dev, IP: nb.IP, MAC: nb.MAC})
		}
		for _, f := range n.FDB {
			pl.FDB = append(pl.FDB, trace.FDBEntry{Dev: f.Dev, MAC: f.MAC, Dst: f.Dst, Permanent: true})
		}
		out[n.Netns] = pl
	}
	for _, p := range s.Plan.Pods {
		name := p.Namespace + "/" + p.Name
		if p.IP.IsValid() {
			pods[p.IP.Addr()] = name
		}
		node, ok := out[p.NodeNetns]
		if !ok {
			continue
		}
		if port := cmp.Or(p.HostVeth, p.HostLink); port != "" {
			node.Ports[port] = "pod " + name
		}
		if s.Plan.Chain || !p.IP.IsValid() {
			continue
		}
		node.Neigh = append(node.Neigh, trace.Neigh{Dev: plan.PodBridge, IP: p.IP.Addr(), MAC: plan.PodMAC(p.IP.Addr())})
		out[p.NodeNetns] = node
		out[p.Netns] = trace.Planned{Neigh: []trace.Neigh{{Dev: plan.PodIface, IP: p.Gateway, MAC: bridgeMAC[p.Node]}}}
	}
	return out, pods
}
