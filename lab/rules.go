package lab

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"kinn.dev/kinn/lab/kernel"
	"kinn.dev/kinn/lab/kernel/nft"
	"kinn.dev/kinn/lab/plan"
	"kinn.dev/kinn/lab/proxy"
	"kinn.dev/kinn/lab/service"
)

// RulesView is one node's dataplane laid out for a learner: each Service
// frontend with the chain that handles it and its endpoints, with live
// packet counters; the node's routes; and its overlay entries, each named
// after the node it leads to. What the kernel lacks or has in excess of
// what kinn wants there (someone's `nft delete rule`, `bridge fdb del`) is
// shown as such: entries marked MISSING or EXTRA, and Drift listing every
// chain and map of the table that differs. Table explains the table's
// fixed machinery, with its counters.
type RulesView struct {
	Node     string         `json:"node"`
	IP       string         `json:"ip"`
	PodCIDR  string         `json:"podCIDR"`
	Services []FrontendView `json:"services"`
	Routes   []EntryView    `json:"routes"`
	Neigh    []EntryView    `json:"neighbours"`
	FDB      []EntryView    `json:"fdb"`
	Drift    []DriftView    `json:"drift,omitempty"`
	// Table is the table's fixed chains, sets and maps and its families
	// of per-Service objects, with what each is for; empty when the lab
	// runs no service proxy.
	Table   []TableObjectView `json:"table,omitempty"`
	Ruleset string            `json:"ruleset,omitempty"` // the table in nft syntax, when asked for (RulesetText)
}

// Drift states of RulesView's lines: "" when the kernel has the line as
// kinn wants it.
const (
	DriftMissing = string(proxy.Missing) // kinn wants it, the kernel lacks it
	DriftExtra   = string(proxy.Extra)   // the kernel has it, kinn does not want it
	DriftChanged = string(proxy.Changed) // both: some of it missing, some extra
)

// DriftView is one chain or map of the node's kinn table that differs in
// the kernel from what kinn wants there (or the table itself, missing).
type DriftView struct {
	State   string   `json:"state"`  // MISSING, EXTRA or CHANGED
	Object  string   `json:"object"` // table, chain or map
	Name    string   `json:"name"`
	Missing []string `json:"missing,omitempty"` // wanted rules or elements the kernel lacks, in nft syntax
	Extra   []string `json:"extra,omitempty"`   // rules or elements kinn did not write
	Summary string   `json:"summary"`           // the difference in words
}

// FrontendView is one way into a Service port on this node.
type FrontendView struct {
	Service   string         `json:"service"`
	Frontend  string         `json:"frontend"` // ip:port/PROTO
	Kind      string         `json:"kind"`     // ClusterIP, NodePort, externalIP, LoadBalancer
	Chain     string         `json:"chain"`
	Packets   uint64         `json:"packets"`
	Bytes     uint64         `json:"bytes"`
	Endpoints []EndpointView `json:"endpoints"`
	Note      string         `json:"note,omitempty"`
	// Drift is set when the kernel's rules or map entries for this
	// frontend differ from kinn's (DriftMissing, DriftExtra, DriftChanged).
	Drift string `json:"drift,omitempty"`
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
	Drift   string `json:"drift,omitempty"` // as FrontendView's, for this endpoint's chain and the rule choosing it
}

// EntryView is a route, neighbour or FDB entry and what it is for.
type EntryView struct {
	Entry string `json:"entry"`
	Note  string `json:"note,omitempty"`
	// State is DriftMissing for an entry the plan has and the kernel
	// lacks, DriftExtra for one the kernel has on kinn's devices and the
	// plan does not, "" for the rest.
	State string `json:"state,omitempty"`
}

// Rules reads a node's rules, counters, routes and overlay entries, and
// compares them with what kinn wants there: the ruleset of ports (the
// endpoints' readiness as the caller knows it) and the node's plan. The
// kernel's answer is awaited until ctx ends.
func (s *State) Rules(ctx context.Context, nodeName string, ports []service.Port) (*RulesView, error) {
	n := findNode(s.Plan, nodeName)
	if n == nil {
		return nil, fmt.Errorf("node %q %w in lab %s", nodeName, ErrNotFound, s.Plan.Name)
	}
	type observed struct {
		seen  nft.Seen
		drift proxy.Drift
		have  plan.NodeState
	}
	node, proxyOn := *n, s.Topology.Networking.KubeProxyMode != "none"
	want := proxy.Build(s.ProxyNode(node), ports)
	o, err := bounded(ctx, "rules "+node.Netns, func() (observed, error) {
		var o observed
		if proxyOn {
			// An unreadable table is an error, not an empty table: that
			// would read as "no drift, no traffic".
			t, err := nft.Open(node.Netns)
			if err != nil {
				return o, err
			}
			o.seen, o.drift, err = t.Inspect(want)
			t.Close()
			if err != nil {
				return o, err
			}
		}
		var err error
		o.have, err = kernel.ObserveNode(node)
		return o, err
	})
	if err != nil {
		return nil, err
	}
	v := &RulesView{Node: n.Name, IP: n.Underlay.Addr().String(), PodCIDR: n.PodCIDR.String()}
	for _, p := range ports {
		v.Services = append(v.Services, frontends(p, n.Name, o.seen.Counters, &o.drift)...)
	}
	v.Drift = driftViews(&o.drift)
	if proxyOn {
		v.Table = tableViews(want, o.seen)
	}
	v.Routes, v.Neigh, v.FDB = overlayViews(s.Plan, *n, o.have)
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
	return proxy.Build(s.ProxyNode(*n), ports).String(), nil
}

// ProxyNode is what the service proxy of node n is built for: the lab
// process syncs it, `kinn rules` compares the table with it.
func (s *State) ProxyNode(n plan.Node) proxy.Node {
	return proxy.Node{Name: n.Name, IPs: []netip.Addr{n.Underlay.Addr(), n.Gateway.Addr()},
		NodePortAddresses: s.Topology.Networking.NodePortAddresses,
		PodCIDRs:          []netip.Prefix{s.Topology.Networking.PodSubnet},
		ServiceCIDRs:      []netip.Prefix{s.Topology.Networking.ServiceSubnet}}
}

func frontends(p service.Port, node string, ctr map[string]nft.Counter, d *proxy.Drift) []FrontendView {
	id := proxy.PortID(p)
	svc := p.Namespace + "/" + p.Service
	cluster, local := proxy.Endpoints(p, node)
	mk := func(front, kind, chain string, used []service.Endpoint, k proxy.Key) FrontendView {
		f := FrontendView{Service: svc, Frontend: front + "/" + string(p.Protocol), Kind: kind, Chain: chain,
			Packets: ctr[chain].Packets, Bytes: ctr[chain].Bytes, Drift: frontendDrift(d, k, chain, proxy.LocalChain(id))}
		for _, ep := range p.Endpoints {
			ec := proxy.EndpointChain(id, ep)
			isUsed := slices.ContainsFunc(used, func(u service.Endpoint) bool { return u.IP == ep.IP && u.Port == ep.Port })
			f.Endpoints = append(f.Endpoints, EndpointView{
				Pod: ep.Namespace + "/" + ep.Pod, Addr: netip.AddrPortFrom(ep.IP, ep.Port).String(), Node: ep.Node,
				State: epState(ep), Used: isUsed,
				Chain: ec, Packets: ctr[ec].Packets, Bytes: ctr[ec].Bytes, Drift: endpointDrift(d, ec, isUsed),
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
	front := mk(netip.AddrPortFrom(p.ClusterIP, p.Port).String(), "ClusterIP", proxy.ClusterChain(id), clusterUsed,
		proxy.Key{Addr: p.ClusterIP, Proto: p.Protocol, Port: p.Port})
	if clusterNote != "" {
		front.Note = clusterNote
	}
	out := []FrontendView{front}
	extUsed, extChain := cluster, proxy.ExternalChain(id)
	if p.ExternalLocal {
		extUsed = local
	}
	localNote := ""
	if p.ExternalLocal {
		localNote = "externalTrafficPolicy Local: this node's endpoints only, client address kept"
		if len(local) == 0 {
			localNote += "; none here: dropped"
		}
	}
	for _, ip := range p.ExternalIPs {
		f := mk(netip.AddrPortFrom(ip, p.Port).String(), "externalIP", extChain, extUsed,
			proxy.Key{Addr: ip, Proto: p.Protocol, Port: p.Port})
		f.Note = cmp.Or(localNote, f.Note)
		out = append(out, f)
	}
	for _, ip := range p.LoadBalancerIPs {
		f := mk(netip.AddrPortFrom(ip, p.Port).String(), "LoadBalancer", extChain, extUsed,
			proxy.Key{Addr: ip, Proto: p.Protocol, Port: p.Port})
		f.Note = cmp.Or(localNote, f.Note)
		if len(p.SourceRanges) > 0 {
			f.Note = strings.TrimPrefix(f.Note+"; only from loadBalancerSourceRanges "+prefixList(p.SourceRanges)+" ("+proxy.FirewallChain(id)+")", "; ")
		}
		out = append(out, f)
	}
	if p.NodePort != 0 {
		f := mk(fmt.Sprintf("<node>:%d", p.NodePort), "NodePort", extChain, extUsed, proxy.Key{Proto: p.Protocol, Port: p.NodePort})
		f.Note = cmp.Or(localNote, f.Note)
		out = append(out, f)
	}
	return out
}

func prefixList(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}

// frontendDrift is how the kernel differs for one frontend: the map
// elements that dispatch (or reject) its key, and its chains.
func frontendDrift(d *proxy.Drift, k proxy.Key, chains ...string) string {
	if d.NoTable {
		return DriftMissing
	}
	var missing, extra bool
	for _, m := range d.Maps {
		has := func(es []proxy.Elem) bool {
			return slices.ContainsFunc(es, func(e proxy.Elem) bool { return e.Key == k })
		}
		missing = missing || has(m.Missing)
		extra = extra || has(m.Extra)
	}
	for _, c := range chains {
		cm, ce := chainDrift(d.Chain(c))
		missing, extra = missing || cm, extra || ce
	}
	return driftState(missing, extra)
}

// endpointDrift is how the kernel differs for one endpoint: its chain, and
// the rules that choose it.
func endpointDrift(d *proxy.Drift, chain string, used bool) string {
	if d.NoTable {
		if used {
			return DriftMissing
		}
		return ""
	}
	missing, extra := chainDrift(d.Chain(chain))
	for _, c := range d.Chains {
		for _, r := range c.Missing {
			missing = missing || slices.ContainsFunc(r.Exprs, func(e proxy.Expr) bool {
				v, ok := e.(proxy.Verdict)
				return ok && v.Chain == chain
			})
		}
	}
	return driftState(missing, extra)
}

// chainDrift says whether a chain lacks something kinn wants and whether
// it has something kinn does not; a base chain redefined or rules out of
// order count as both.
func chainDrift(c *proxy.ChainDrift) (missing, extra bool) {
	switch {
	case c == nil:
		return false, false
	case c.State == proxy.Missing:
		return true, false
	case c.State == proxy.Extra:
		return false, true
	case c.Redefined != "" || c.Reordered:
		return true, true
	}
	return len(c.Missing) > 0, len(c.Extra) > 0
}

func driftState(missing, extra bool) string {
	switch {
	case missing && extra:
		return DriftChanged
	case missing:
		return DriftMissing
	case extra:
		return DriftExtra
	}
	return ""
}

// driftViews lists the table's drift, one view per chain or map.
func driftViews(d *proxy.Drift) []DriftView {
	if d.NoTable {
		return []DriftView{{State: DriftMissing, Object: "table", Name: proxy.TableName, Summary: d.Lines()[0]}}
	}
	var out []DriftView
	for _, c := range d.Chains {
		v := DriftView{State: driftState(chainDrift(&c)), Object: "chain", Name: c.Name, Extra: c.Extra, Summary: c.String()}
		for _, r := range c.Missing {
			v.Missing = append(v.Missing, r.String())
		}
		out = append(out, v)
	}
	for _, m := range d.Maps {
		v := DriftView{State: string(m.State), Object: "map", Name: m.Name, Summary: m.String()}
		if m.State == proxy.Changed {
			v.State = driftState(len(m.Missing) > 0 || m.Redefined != "", len(m.Extra) > 0 || m.Redefined != "")
		}
		for _, e := range m.Missing {
			v.Missing = append(v.Missing, e.String(m.Key))
		}
		for _, e := range m.Extra {
			v.Extra = append(v.Extra, e.String(m.Key))
		}
		out = append(out, v)
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
// leads to, so a learner can follow a packet, and marks what the plan has
// and the kernel lacks (MISSING) or the other way round (EXTRA).
func overlayViews(p *plan.Lab, want plan.Node, have plan.NodeState) (routes, neigh, fdb []EntryView) {
	owner := map[string]string{}
	for _, n := range p.Nodes {
		owner[n.PodCIDR.Masked().String()] = n.Name + "'s pods"
		owner[n.PodCIDR.Masked().Addr().String()] = n.Name + "'s VTEP"
		owner[plan.VTEPMAC(p.Name, n.Name)] = n.Name + "'s VTEP"
		owner[n.Underlay.Addr().String()] = n.Name
	}
	owner["0.0.0.0/0"] = "everything else, to the switch (the outside world)"
	kinns := func(dev string) bool {
		return slices.ContainsFunc(want.Links, func(l plan.Link) bool { return l.Name == dev })
	}
	routes = entryViews(want.Routes, have.Routes, kinns,
		func(r plan.Route) string { return r.Dev },
		func(r plan.Route) EntryView { return EntryView{Entry: r.String(), Note: owner[r.Dst.String()]} })
	neigh = entryViews(want.Neigh, have.Neigh, kinns,
		func(n plan.Neigh) string { return n.Dev },
		func(n plan.Neigh) EntryView {
			return EntryView{Entry: fmt.Sprintf("%s lladdr %s dev %s permanent", n.IP, n.MAC, n.Dev), Note: owner[n.IP.String()]}
		})
	fdb = entryViews(want.FDB, have.FDB, kinns,
		func(f plan.FDB) string { return f.Dev },
		func(f plan.FDB) EntryView {
			return EntryView{Entry: fmt.Sprintf("%s dst %s dev %s self permanent", f.MAC, f.Dst, f.Dev), Note: "to " + owner[f.Dst.String()]}
		})
	return routes, neigh, fdb
}

// entryViews lists the kernel's entries in the kernel's order, each marked
// EXTRA if it is on one of kinn's devices and not planned (others', like a
// CNI chain's routes, are shown unmarked), then the planned entries the
// kernel lacks, marked MISSING.
func entryViews[T comparable](want, have []T, kinns func(dev string) bool, dev func(T) string, view func(T) EntryView) []EntryView {
	var out []EntryView
	for _, h := range have {
		v := view(h)
		if !slices.Contains(want, h) && kinns(dev(h)) {
			v.State = DriftExtra
		}
		out = append(out, v)
	}
	for _, w := range want {
		if !slices.Contains(have, w) {
			v := view(w)
			v.State = DriftMissing
			out = append(out, v)
		}
	}
	return out
}
