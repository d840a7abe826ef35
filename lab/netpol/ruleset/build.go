// Package ruleset builds the NetworkPolicy table of one node, `ip
// kinn-netpol`, from lab/netpol's model: what the evaluator decides, as
// nftables rules in lab/proxy's IR, which lab/kernel/nft loads, diffs
// and repairs like the service proxy's table.
package ruleset

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"

	"kinn.dev/kinn/lab/ipam"
	"kinn.dev/kinn/lab/netpol"
	"kinn.dev/kinn/lab/proxy"
	"kinn.dev/kinn/lab/service"
)

// The kernel side of the evaluator: one node's table `ip kinn-netpol`, a
// sibling of the service proxy's `ip kinn`, written in the same IR so that
// lab/kernel/nft loads, diffs and repairs it alike.
//
//	chain egress       (forward, priority 0): ct state established,related accept; ip saddr vmap @eg-pods
//	chain egress-input (input, priority 0):   the same, for a pod to its own node
//	chain ingress      (forward, priority 5): ct state established,related accept; ip daddr vmap @in-pods
//	chain pod-in-<pod>: jump pol-in-<policy> for each policy isolating the pod (sorted); log; drop
//	chain pol-in-<policy>: one rule per peer x port of each rule: match; log; accept
//
// Forward runs after the proxy's DNAT (nat prerouting, -100) and its
// rejects (filter forward, -10), so a flow is judged on the endpoint, never
// the ClusterIP: a Service is no way around a policy. Traffic the node
// itself sends to its pods (kubelet probes) goes through output, where no
// ingress chain is hooked: it is never judged. Egress and ingress are
// separate base chains, so an egress accept ends only the egress verdict.
//
// Rules never name pods: a selector peer is a group id, and its members
// are elements `pod address . id` of peer-pods; an ipBlock is intervals
// `range . id` of peer-cidrs; a named port is `pod address . protocol .
// port . id` of named-ports, resolved on the destination pod as the API
// says. Relabelling a pod changes elements only.

// TableName is the NetworkPolicy table's name in every node.
const TableName = "kinn-netpol"

// LogGroup is the NFLOG group verdicts are sent to.
const LogGroup = 100

// Names of the fixed chains and sets of the table.
const (
	ChainEgress      = "egress"
	ChainEgressInput = "egress-input"
	ChainIngress     = "ingress"
	MapEgressPods    = "eg-pods"
	MapIngressPods   = "in-pods"
	SetPeerPods      = "peer-pods"
	SetPeerCIDRs     = "peer-cidrs"
	SetNamedPorts    = "named-ports"
)

// Node is the node whose table is built: pods on it are the local ones.
type Node struct{ Name string }

// Build computes node's table for the cluster c. It is pure and sorted:
// the same input gives the same ruleset, so proxy.Diff of two builds is
// the incremental change.
func Build(node Node, c *netpol.Cluster) *proxy.Ruleset {
	b := &builder{c: c, chains: map[string]*proxy.Chain{}, groups: map[peerKey]uint32{}, names: map[string]uint32{}}
	b.base()
	for _, pod := range c.Pods() {
		if pod.Node != node.Name || !pod.IP.Is4() {
			continue
		}
		b.isolate(pod, netpol.Ingress)
		b.isolate(pod, netpol.Egress)
	}
	return b.ruleset()
}

type builder struct {
	c      *netpol.Cluster
	chains map[string]*proxy.Chain
	egress []proxy.Elem // eg-pods
	ingr   []proxy.Elem // in-pods
	peers  []proxy.Elem // peer-pods
	cidrs  []proxy.Elem // peer-cidrs
	groups map[peerKey]uint32
	names  map[string]uint32 // named port name -> id
	named  []proxy.Elem      // named-ports
}

// peerKey names one peer of one rule: the unit a group id stands for.
type peerKey struct {
	policy      string
	dir         netpol.Direction
	rule, index int
}

var (
	accept = proxy.Verdict{Kind: proxy.Accept}
	drop   = proxy.Verdict{Kind: proxy.Drop}
)

func (b *builder) base() {
	established := proxy.Rule{Exprs: []proxy.Expr{proxy.CtState{State: "established,related"}, accept}}
	filter := func(hook string, prio int32) *proxy.Hook {
		return &proxy.Hook{Type: "filter", Hook: hook, Priority: prio}
	}
	egress := proxy.Rule{Exprs: []proxy.Expr{proxy.Vmap{Key: proxy.KeyAddrVerdict, Map: MapEgressPods, Source: true}}}
	b.add(&proxy.Chain{Name: ChainEgress, Hook: filter("forward", 0), Rules: []proxy.Rule{established, egress}})
	b.add(&proxy.Chain{Name: ChainEgressInput, Hook: filter("input", 0), Rules: []proxy.Rule{established, egress}})
	ingress := proxy.Rule{Exprs: []proxy.Expr{proxy.Vmap{Key: proxy.KeyAddrVerdict, Map: MapIngressPods}}}
	b.add(&proxy.Chain{Name: ChainIngress, Hook: filter("forward", 5), Rules: []proxy.Rule{established, ingress}})
}

func (b *builder) add(c *proxy.Chain) { b.chains[c.Name] = c }

// isolate gives pod a chain for dir when some policy isolates it there:
// a jump to each such policy's chain, then the drop, logged with the pod.
func (b *builder) isolate(pod *netpol.Pod, dir netpol.Direction) {
	var rules []proxy.Rule
	var by []string
	for _, p := range b.c.Policies() {
		if !p.Isolates(dir) || !p.Selects(pod) {
			continue
		}
		by = append(by, p.Key())
		name := PolicyChain(p, dir)
		if b.chains[name] == nil {
			b.policyChain(p, dir, name)
		}
		rules = append(rules, proxy.Rule{Exprs: []proxy.Expr{proxy.Verdict{Kind: proxy.Jump, Chain: name}}})
	}
	if rules == nil {
		return
	}
	rules = append(rules, proxy.Rule{Exprs: []proxy.Expr{proxy.Log{Group: LogGroup, Prefix: DropPrefix(dir, pod.String(), by)}, drop}})
	name := PodChain(pod, dir)
	b.add(&proxy.Chain{Name: name, Rules: rules})
	elem := proxy.Elem{Key: proxy.Key{Addr: pod.IP}, Verdict: proxy.Verdict{Kind: proxy.Goto, Chain: name}}
	if dir == netpol.Ingress {
		b.ingr = append(b.ingr, elem)
	} else {
		b.egress = append(b.egress, elem)
	}
}

// policyChain adds p's chain for dir: every rule as one nft rule per peer
// and port (an empty list being one "any"), each logging which rule of
// which policy allowed the connection.
func (b *builder) policyChain(p *netpol.Policy, dir netpol.Direction, name string) {
	c := &proxy.Chain{Name: name}
	for i, r := range p.Rules(dir) {
		prefix := LogPrefix(true, dir, fmt.Sprintf("%s#%d", p.Key(), i))
		for _, peer := range b.peerMatches(p, dir, i, r) {
			for _, port := range b.portMatches(r) {
				exprs := append(append(slices.Clip(peer), port...), proxy.Log{Group: LogGroup, Prefix: prefix}, accept)
				c.Rules = append(c.Rules, proxy.Rule{Exprs: exprs})
			}
		}
	}
	b.add(c)
}

// peerMatches is one match per peer of r, [nil] for every peer: the other
// end's address (the source for ingress) in the peer's group.
func (b *builder) peerMatches(p *netpol.Policy, dir netpol.Direction, i int, r netpol.Rule) [][]proxy.Expr {
	if r.Peers == nil {
		return [][]proxy.Expr{nil}
	}
	var out [][]proxy.Expr
	for j, peer := range r.Peers {
		g := b.group(peerKey{p.Key(), dir, i, j}, p, peer)
		set := SetPeerPods
		if peer.Block != nil {
			set = SetPeerCIDRs
		}
		out = append(out, []proxy.Expr{proxy.AddrGroupIn{Source: dir == netpol.Ingress, Group: g, Set: set}})
	}
	return out
}

// group numbers a peer and adds its members: the pods it selects, or the
// ranges of its ipBlock.
func (b *builder) group(k peerKey, p *netpol.Policy, peer netpol.Peer) uint32 {
	if g, ok := b.groups[k]; ok {
		return g
	}
	g := uint32(len(b.groups) + 1)
	b.groups[k] = g
	if peer.Block != nil {
		for _, r := range blockRanges(peer.Block) {
			b.cidrs = append(b.cidrs, proxy.Elem{Key: proxy.Key{Addr: r[0], Last: r[1], Group: g}})
		}
		return g
	}
	for _, pod := range b.c.Members(p, peer) {
		if pod.IP.Is4() {
			b.peers = append(b.peers, proxy.Elem{Key: proxy.Key{Addr: pod.IP, Group: g}})
		}
	}
	return g
}

// portMatches is one match per port of r, [nil] for every port.
func (b *builder) portMatches(r netpol.Rule) [][]proxy.Expr {
	if r.Ports == nil {
		return [][]proxy.Expr{nil}
	}
	var out [][]proxy.Expr
	for _, p := range r.Ports {
		m := []proxy.Expr{proxy.L4Proto{Proto: service.Protocol(p.Protocol)}}
		switch {
		case p.Any:
		case p.Name != "":
			m = append(m, proxy.NamedPortIn{Name: b.namedPort(p.Name), Set: SetNamedPorts})
		default:
			m = append(m, proxy.Dport{First: uint16(p.Number), Last: uint16(p.End)})
		}
		out = append(out, m)
	}
	return out
}

// namedPort numbers a port name and adds, once, every pod port of that
// name: the destination pod resolves it, whatever the protocol asked.
func (b *builder) namedPort(name string) uint32 {
	if id, ok := b.names[name]; ok {
		return id
	}
	id := uint32(len(b.names) + 1)
	b.names[name] = id
	for _, pod := range b.c.Pods() {
		if !pod.IP.Is4() {
			continue
		}
		for _, cp := range pod.Ports {
			if cp.Name == name {
				proto := service.Protocol(cmp.Or(cp.Protocol, corev1.ProtocolTCP))
				b.named = append(b.named, proxy.Elem{Key: proxy.Key{Addr: pod.IP, Proto: proto, Port: uint16(cp.ContainerPort), Group: id}})
			}
		}
	}
	return id
}

func (b *builder) ruleset() *proxy.Ruleset {
	rs := &proxy.Ruleset{}
	for _, c := range b.chains {
		rs.Chains = append(rs.Chains, c)
	}
	slices.SortFunc(rs.Chains, func(x, y *proxy.Chain) int { return cmp.Compare(x.Name, y.Name) })
	rs.Maps = []*proxy.Map{
		sortedMap(MapEgressPods, proxy.KeyAddrVerdict, b.egress),
		sortedMap(MapIngressPods, proxy.KeyAddrVerdict, b.ingr),
		sortedMap(SetNamedPorts, proxy.KeyNamedPort, b.named),
		sortedMap(SetPeerCIDRs, proxy.KeyRangeGroup, b.cidrs),
		sortedMap(SetPeerPods, proxy.KeyAddrGroup, b.peers),
	}
	return rs
}

func sortedMap(name string, kind proxy.KeyKind, elems []proxy.Elem) *proxy.Map {
	slices.SortFunc(elems, func(x, y proxy.Elem) int {
		return cmp.Or(x.Key.Addr.Compare(y.Key.Addr), cmp.Compare(x.Key.Group, y.Key.Group),
			cmp.Compare(x.Key.Proto, y.Key.Proto), cmp.Compare(x.Key.Port, y.Key.Port))
	})
	return &proxy.Map{Name: name, Key: kind, Elems: elems}
}

// blockRanges is an ipBlock's IPv4 addresses as inclusive ranges: CIDR
// minus every Except. The table is of family ip; an IPv6 block has none.
func blockRanges(b *netpol.Block) [][2]netip.Addr {
	if !b.CIDR.Addr().Is4() {
		return nil
	}
	out := [][2]netip.Addr{{b.CIDR.Masked().Addr(), ipam.Broadcast(b.CIDR)}}
	for _, e := range b.Except {
		if !e.Addr().Is4() {
			continue
		}
		lo, hi := e.Masked().Addr(), ipam.Broadcast(e)
		var next [][2]netip.Addr
		for _, r := range out {
			if hi.Less(r[0]) || r[1].Less(lo) {
				next = append(next, r)
				continue
			}
			if r[0].Less(lo) {
				next = append(next, [2]netip.Addr{r[0], lo.Prev()})
			}
			if hi.Less(r[1]) {
				next = append(next, [2]netip.Addr{hi.Next(), r[1]})
			}
		}
		out = next
	}
	return out
}
