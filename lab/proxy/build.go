package proxy

import (
	"cmp"
	"net/netip"
	"slices"

	"kinn.dev/kinn/lab/service"
)

// Node is the node whose ruleset is built: endpoints on it are "local".
type Node struct {
	Name string
	// IPs are the node's own addresses, its primary address (the underlay,
	// what kube-proxy calls the node IP) first.
	IPs []netip.Addr
	// NodePortAddresses is kube-proxy's nodePortAddresses: NodePorts are
	// served on the node's IPs within these networks. Empty means
	// "primary", kube-proxy's nftables default: the first IP only.
	NodePortAddresses []netip.Prefix
	// Bridge is the pods' bridge; traffic entering from it comes from a pod
	// on this node. Empty means "cni0".
	Bridge string
	// PodCIDRs are the cluster's pod networks (every node's pods), what
	// kube-proxy's local-traffic detector in cluster-CIDR mode calls local:
	// ClusterIP traffic from any other source (the node itself, a client
	// outside with a route to the service network) is masqueraded, so the
	// reply returns through this node. Empty: nothing is masqueraded for it.
	PodCIDRs []netip.Prefix
	// ServiceCIDRs are the ranges ClusterIPs are allocated from: a new
	// connection to an address in them that no Service owns is dropped.
	ServiceCIDRs []netip.Prefix
}

// Equal reports whether two nodes build the same base rules, so that one
// ruleset can be changed into the other by Changes alone.
func (n Node) Equal(o Node) bool {
	return n.Name == o.Name && n.bridge() == o.bridge() && slices.Equal(n.IPs, o.IPs) &&
		slices.Equal(n.NodePortAddresses, o.NodePortAddresses) && slices.Equal(n.PodCIDRs, o.PodCIDRs) && slices.Equal(n.ServiceCIDRs, o.ServiceCIDRs)
}

// v4 keeps the IPv4 prefixes, masked: the table is of family ip.
func v4(ps []netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range ps {
		if p.Addr().Is4() {
			out = append(out, p.Masked())
		}
	}
	return out
}

// NodePortIPs are the addresses NodePorts answer on: the IPv4 IPs within
// NodePortAddresses, or the primary IP. Never a loopback address, as
// kube-proxy: DNAT from 127.0.0.1 would need route_localnet.
func (n Node) NodePortIPs() []netip.Addr {
	var out []netip.Addr
	for i, ip := range n.IPs {
		if !ip.Is4() || ip.IsLoopback() {
			continue
		}
		in := len(n.NodePortAddresses) == 0 && i == 0 ||
			slices.ContainsFunc(n.NodePortAddresses, func(p netip.Prefix) bool { return p.Contains(ip) })
		if in && !slices.Contains(out, ip) {
			out = append(out, ip)
		}
	}
	return out
}

func (n Node) bridge() string {
	if n.Bridge == "" {
		return "cni0"
	}
	return n.Bridge
}

// Names of the fixed chains and maps every ruleset has.
const (
	ChainServices         = "services"
	ChainMasquerading     = "masquerading"
	ChainMarkMasq         = "mark-for-masquerade"
	ChainEndpointsCheck   = "endpoints-check"
	ChainReject           = "reject"
	ChainClusterIPsCheck  = "cluster-ips-check"
	SetClusterIPs         = "cluster-ips"
	SetNodePortIPs        = "nodeport-ips"
	ChainFirewallCheck    = "firewall-check"
	MapFirewallIPs        = "firewall-ips"
	MapServiceIPs         = "service-ips"
	MapServiceNodePorts   = "service-nodeports"
	MapNoEndpointServices = "no-endpoint-services"
	MapNoEndpointNodePort = "no-endpoint-nodeports"
)

// Layout is how a service chain picks an endpoint at random.
type Layout int

const (
	// Cascade is kinn's layout: plain rules, rule i of n taking its
	// endpoint with probability 1/(n-i), the last one always; together a
	// uniform choice. No set per service, so a load stays linear.
	Cascade Layout = iota
	// NamedMaps is `numgen random mod N vmap @svc-...`, one named map per
	// service, bound before its elements are added. Kept for comparison:
	// creating and looking up named sets walks the table's list of sets,
	// so this is quadratic in the number of services (see README.md).
	NamedMaps
)

// Build computes the desired ruleset of one node. It is pure: the same
// input always gives the same (sorted) output.
func Build(node Node, ports []service.Port) *Ruleset {
	return BuildLayout(node, ports, Cascade)
}

// BuildLayout is Build with a choice of layout.
func BuildLayout(node Node, ports []service.Port, layout Layout) *Ruleset {
	b := &builder{node: node, layout: layout, chains: map[string]*Chain{}, maps: map[string]*Map{}}
	b.base()
	sorted := slices.Clone(ports)
	slices.SortFunc(sorted, func(a, c service.Port) int { return cmp.Compare(a.Key(), c.Key()) })
	for _, p := range sorted {
		b.port(p)
	}
	rs := b.finish()
	rs.Health = HealthChecks(node, ports)
	return rs
}

type builder struct {
	node   Node
	layout Layout
	chains map[string]*Chain
	maps   map[string]*Map
}

func (b *builder) chain(name string, hook *Hook, rules ...Rule) {
	if len(rules) > 0 {
		// A counter first in the first rule counts every packet entering.
		rules[0].Exprs = append([]Expr{Counter{}}, rules[0].Exprs...)
	}
	b.chains[name] = &Chain{Name: name, Hook: hook, Rules: rules}
}

func (b *builder) addMap(m *Map) { b.maps[m.Name] = m }

func (b *builder) elem(mapName string, k Key, v Verdict) {
	m := b.maps[mapName]
	m.Elems = append(m.Elems, Elem{Key: k, Verdict: v})
}

func rule(comment string, exprs ...Expr) Rule { return Rule{Exprs: exprs, Comment: comment} }

// base adds the chains and maps that do not depend on services.
func (b *builder) base() {
	nat := func(hook string, prio int32) *Hook { return &Hook{Type: "nat", Hook: hook, Priority: prio} }
	filter := func(hook string) *Hook { return &Hook{Type: "filter", Hook: hook, Priority: -10} }
	check := rule("", CtState{"new"}, jump(ChainEndpointsCheck))

	b.chain("nat-prerouting", nat("prerouting", -100), rule("", jump(ChainServices)))
	b.chain("nat-output", nat("output", -100), rule("", jump(ChainServices)))
	b.chain("nat-postrouting", nat("postrouting", 100), rule("", jump(ChainMasquerading)))
	b.chain("filter-input", filter("input"), check)
	// Filter chains run after DNAT: a packet still addressed to a
	// ClusterIP here matched none of its Service's ports. No `ct state
	// invalid drop` in forward: kube-proxy removed it (kubernetes PR
	// #122663), as it dropped traffic that was none of the proxy's concern.
	ipsCheck := rule("", CtState{"new"}, jump(ChainClusterIPsCheck))
	b.chain("filter-forward", filter("forward"), check, ipsCheck)
	b.chain("filter-output", filter("output"), check, ipsCheck)

	// Before DNAT, so that the destination is still the LoadBalancer IP:
	// kube-proxy's filter-*-pre-dnat chains at priority dstnat-10.
	preDNAT := func(hook string) *Hook { return &Hook{Type: "filter", Hook: hook, Priority: -110} }
	fwCheck := rule("", CtState{"new"}, jump(ChainFirewallCheck))
	b.chain("filter-prerouting-pre-dnat", preDNAT("prerouting"), fwCheck)
	b.chain("filter-output-pre-dnat", preDNAT("output"), fwCheck)
	b.chain(ChainFirewallCheck, nil, rule("", Vmap{Key: KeyServiceIP, Map: MapFirewallIPs}))

	b.chain(ChainServices, nil,
		rule("", Vmap{Key: KeyServiceIP, Map: MapServiceIPs}),
		rule("", DaddrIn{Set: SetNodePortIPs}, Vmap{Key: KeyNodePort, Map: MapServiceNodePorts}))
	b.chain(ChainEndpointsCheck, nil,
		rule("", Vmap{Key: KeyServiceIP, Map: MapNoEndpointServices}),
		rule("", DaddrIn{Set: SetNodePortIPs}, Vmap{Key: KeyNodePort, Map: MapNoEndpointNodePort}))
	b.chain(ChainMarkMasq, nil, rule("", MarkMasq{}))
	b.chain(ChainMasquerading, nil,
		rule("", MarkUnset{}, Verdict{Kind: Return}),
		rule("", MarkClear{}),
		rule("", Masquerade{}))
	ipsRules := []Rule{rule("reject traffic to invalid ports of ClusterIPs", DaddrIn{Set: SetClusterIPs}, jump(ChainReject))}
	for _, p := range v4(b.node.ServiceCIDRs) {
		ipsRules = append(ipsRules, rule("drop traffic to unallocated ClusterIPs", DaddrPrefix{Prefix: p}, Verdict{Kind: Drop}))
	}
	b.chain(ChainClusterIPsCheck, nil, ipsRules...)
	// kube-proxy's reject-chain is a plain `reject`: ICMP port unreachable
	// for every protocol, which a TCP client sees as "connection refused"
	// just as it would a reset.
	b.chain(ChainReject, nil, rule("", Reject{}))

	b.addMap(&Map{Name: MapServiceIPs, Key: KeyServiceIP, Comment: "ClusterIP, external IP and LoadBalancer IP dispatch"})
	b.addMap(&Map{Name: MapFirewallIPs, Key: KeyServiceIP, Comment: "LoadBalancer IPs with loadBalancerSourceRanges"})
	b.addMap(&Map{Name: MapServiceNodePorts, Key: KeyNodePort, Comment: "NodePort dispatch"})
	b.addMap(&Map{Name: MapNoEndpointServices, Key: KeyServiceIP, Comment: "services without usable endpoints"})
	b.addMap(&Map{Name: MapNoEndpointNodePort, Key: KeyNodePort, Comment: "NodePorts without usable endpoints"})
	b.addMap(&Map{Name: SetClusterIPs, Key: KeyAddr, Comment: "every ClusterIP"})
	b.addMap(&Map{Name: SetNodePortIPs, Key: KeyAddr, Comment: "addresses NodePorts answer on"})
	for _, ip := range b.node.NodePortIPs() {
		b.elem(SetNodePortIPs, Key{Addr: ip}, Verdict{})
	}
}

func (b *builder) finish() *Ruleset {
	rs := &Ruleset{}
	for _, c := range b.chains {
		rs.Chains = append(rs.Chains, c)
	}
	for _, m := range b.maps {
		m.Elems = sortElems(m.Key, m.Elems)
		rs.Maps = append(rs.Maps, m)
	}
	slices.SortFunc(rs.Chains, func(a, c *Chain) int { return cmp.Compare(a.Name, c.Name) })
	slices.SortFunc(rs.Maps, func(a, c *Map) int { return cmp.Compare(a.Name, c.Name) })
	return rs
}

// sortElems sorts by key and drops duplicate keys (two services claiming
// one address and port), keeping the first, so a load never fails on them.
func sortElems(kind KeyKind, es []Elem) []Elem {
	slices.SortStableFunc(es, func(a, c Elem) int { return compareKeys(a.Key, c.Key) })
	return slices.CompactFunc(es, func(a, c Elem) bool { return a.Key == c.Key })
}

func compareKeys(a, c Key) int {
	return cmp.Or(a.Addr.Compare(c.Addr), cmp.Compare(a.Proto, c.Proto), cmp.Compare(a.Port, c.Port), cmp.Compare(a.Index, c.Index))
}
