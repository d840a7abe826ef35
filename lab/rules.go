package lab

import (
	"context"
	"fmt"
	"net/netip"
	"slices"

	"kinn.dev/kinn/lab/kernel"
	"kinn.dev/kinn/lab/kernel/nft"
	"kinn.dev/kinn/lab/plan"
	"kinn.dev/kinn/lab/proxy"
	"kinn.dev/kinn/lab/service"
)

// RulesView is one node's dataplane laid out for a learner: each Service
// frontend with the chain that handles it and its endpoints, with live
// packet counters; the node's routes; and its overlay entries, each named
// after the node it leads to.
type RulesView struct {
	Node     string         `json:"node"`
	IP       string         `json:"ip"`
	PodCIDR  string         `json:"podCIDR"`
	Services []FrontendView `json:"services"`
	Routes   []EntryView    `json:"routes"`
	Neigh    []EntryView    `json:"neighbours"`
	FDB      []EntryView    `json:"fdb"`
	Ruleset  string         `json:"ruleset,omitempty"` // the table in nft syntax, when asked for (RulesetText)
}

// FrontendView is one way into a Service port on this node.
type FrontendView struct {
	Service   string         `json:"service"`
	Frontend  string         `json:"frontend"` // ip:port/PROTO
	Kind      string         `json:"kind"`     // ClusterIP, NodePort, externalIP
	Chain     string         `json:"chain"`
	Packets   uint64         `json:"packets"`
	Bytes     uint64         `json:"bytes"`
	Endpoints []EndpointView `json:"endpoints"`
	Note      string         `json:"note,omitempty"`
}

// EndpointView is one endpoint as this node's proxy sees it.
type EndpointView struct {
	Pod     string `json:"pod"`
	Addr    string `json:"addr"`
	Node    string `json:"node"`
	State   string `json:"state"` // ready, terminating, unready
	Used    bool   `json:"used"`  // chosen by this node's rules
	Chain   string `json:"chain"`
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
}

// EntryView is a route, neighbour or FDB entry and what it is for.
type EntryView struct {
	Entry string `json:"entry"`
	Note  string `json:"note,omitempty"`
}

// Rules reads a node's rules, counters, routes and overlay entries; the
// kernel's answer is awaited until ctx ends.
func (s *State) Rules(ctx context.Context, nodeName string, ports []service.Port) (*RulesView, error) {
	n := findNode(s.Plan, nodeName)
	if n == nil {
		return nil, fmt.Errorf("node %q %w in lab %s", nodeName, ErrNotFound, s.Plan.Name)
	}
	type observed struct {
		counters map[string]nft.Counter
		have     plan.NodeState
	}
	node := *n
	o, err := bounded(ctx, "rules "+node.Netns, func() (observed, error) {
		counters := map[string]nft.Counter{}
		if t, err := nft.Open(node.Netns); err == nil {
			counters, _ = t.Counters()
			t.Close()
		}
		have, err := kernel.ObserveNode(node)
		return observed{counters, have}, err
	})
	if err != nil {
		return nil, err
	}
	v := &RulesView{Node: n.Name, IP: n.Underlay.Addr().String(), PodCIDR: n.PodCIDR.String()}
	for _, p := range ports {
		v.Services = append(v.Services, frontends(p, n.Name, o.counters)...)
	}
	v.Routes, v.Neigh, v.FDB = overlayViews(s.Plan, o.have)
	return v, nil
}

// RulesetText is a node's table in nft syntax. It builds the node's whole
// ruleset, so it is not part of Rules, which the terminal UI reads every
// second.
func (s *State) RulesetText(nodeName string, ports []service.Port) (string, error) {
	n := findNode(s.Plan, nodeName)
	if n == nil {
		return "", fmt.Errorf("node %q %w in lab %s", nodeName, ErrNotFound, s.Plan.Name)
	}
	return proxy.Build(proxy.Node{Name: n.Name, IPs: []netip.Addr{n.Underlay.Addr()}}, ports).String(), nil
}

func frontends(p service.Port, node string, ctr map[string]nft.Counter) []FrontendView {
	id := proxy.PortID(p)
	svc := p.Namespace + "/" + p.Service
	cluster, local := proxy.Endpoints(p, node)
	mk := func(front, kind, chain string, used []service.Endpoint) FrontendView {
		f := FrontendView{Service: svc, Frontend: front + "/" + string(p.Protocol), Kind: kind, Chain: chain,
			Packets: ctr[chain].Packets, Bytes: ctr[chain].Bytes}
		for _, ep := range p.Endpoints {
			ec := proxy.EndpointChain(id, ep)
			f.Endpoints = append(f.Endpoints, EndpointView{
				Pod: ep.Namespace + "/" + ep.Pod, Addr: netip.AddrPortFrom(ep.IP, ep.Port).String(), Node: ep.Node,
				State: epState(ep), Used: slices.ContainsFunc(used, func(u service.Endpoint) bool { return u.IP == ep.IP && u.Port == ep.Port }),
				Chain: ec, Packets: ctr[ec].Packets, Bytes: ctr[ec].Bytes,
			})
		}
		if len(used) == 0 {
			f.Note = "no usable endpoint: rejected"
		}
		return f
	}
	clusterUsed, clusterNote := cluster, ""
	if p.InternalLocal {
		clusterUsed = local
		clusterNote = "internalTrafficPolicy Local: this node's endpoints only"
	}
	front := mk(netip.AddrPortFrom(p.ClusterIP, p.Port).String(), "ClusterIP", proxy.ClusterChain(id), clusterUsed)
	if clusterNote != "" {
		front.Note = clusterNote
	}
	out := []FrontendView{front}
	extUsed, extChain := cluster, proxy.ExternalChain(id)
	if p.ExternalLocal {
		extUsed = local
	}
	for _, ip := range p.ExternalIPs {
		out = append(out, mk(netip.AddrPortFrom(ip, p.Port).String(), "externalIP", extChain, extUsed))
	}
	if p.NodePort != 0 {
		f := mk(fmt.Sprintf("<node>:%d", p.NodePort), "NodePort", extChain, extUsed)
		if p.ExternalLocal {
			f.Note = "externalTrafficPolicy Local: this node's endpoints only, client address kept"
			if len(local) == 0 {
				f.Note += "; none here: dropped"
			}
		}
		out = append(out, f)
	}
	return out
}

func epState(ep service.Endpoint) string {
	switch {
	case ep.Ready:
		return "ready"
	case ep.Terminating && ep.Serving:
		return "terminating"
	}
	return "unready"
}

// overlayViews names each route, neighbour and FDB entry after the node it
// leads to, so a learner can follow a packet.
func overlayViews(p *plan.Lab, have plan.NodeState) (routes, neigh, fdb []EntryView) {
	owner := map[string]string{}
	for _, n := range p.Nodes {
		owner[n.PodCIDR.Masked().String()] = n.Name + "'s pods"
		owner[n.PodCIDR.Masked().Addr().String()] = n.Name + "'s VTEP"
		owner[plan.VTEPMAC(p.Name, n.Name)] = n.Name + "'s VTEP"
		owner[n.Underlay.Addr().String()] = n.Name
	}
	owner["0.0.0.0/0"] = "everything else, to the switch (the outside world)"
	for _, r := range have.Routes {
		routes = append(routes, EntryView{r.String(), owner[r.Dst.String()]})
	}
	for _, n := range have.Neigh {
		neigh = append(neigh, EntryView{fmt.Sprintf("%s lladdr %s dev %s permanent", n.IP, n.MAC, n.Dev), owner[n.IP.String()]})
	}
	for _, f := range have.FDB {
		fdb = append(fdb, EntryView{fmt.Sprintf("%s dst %s dev %s self permanent", f.MAC, f.Dst, f.Dev), "to " + owner[f.Dst.String()]})
	}
	return routes, neigh, fdb
}
