package proxy

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"kinn.dev/kinn/lab/plan"
	"kinn.dev/kinn/lab/service"
)

// PortID names a service port in chain names: namespace/service/port/proto,
// as kube-proxy's nftables mode does, the port being its name or, when
// unnamed, its number (port names always contain a letter, so the two never
// collide). The separator is one no part can contain: joined with "-",
// Service x-y/z and x/y-z once shared their chains, and one answered for
// the other.
func PortID(p service.Port) string {
	name := p.Name
	if name == "" {
		name = fmt.Sprint(p.Port)
	}
	return strings.Join([]string{p.Namespace, p.Service, name, proto(p.Protocol)}, "/")
}

// Limits of nftables names and comments: NFT_NAME_MAXLEN (256) with its
// NUL, and libnftnl's NFTNL_UDATA_COMMENT_MAXLEN, which nft enforces.
// Namespace, Service and port names of 63 characters make an ID of up to
// 196, and a pod name adds up to 253 more: the longest names are shortened.
const (
	maxName    = 255
	maxComment = 128
)

// Chain and map names for one service port.
func ClusterChain(id string) string  { return plan.Shorten("svc-"+id, maxName) }
func LocalChain(id string) string    { return plan.Shorten("local-"+id, maxName) }
func ExternalChain(id string) string { return plan.Shorten("ext-"+id, maxName) }
func FirewallChain(id string) string { return plan.Shorten("firewall-"+id, maxName) }

// EndpointChain names the chain that DNATs to one endpoint of one service
// port (per service port, because affinity state is per service).
func EndpointChain(id string, ep service.Endpoint) string {
	return plan.Shorten("ep-"+id+"/"+endpointName(ep), maxName)
}

// AffinitySet names the set of clients stuck to one endpoint.
func AffinitySet(id string, ep service.Endpoint) string {
	return plan.Shorten("aff-"+id+"/"+endpointName(ep), maxName)
}

func endpointName(ep service.Endpoint) string {
	who := ep.Pod
	if who == "" {
		who = ep.IP.String()
	}
	return fmt.Sprintf("%s-%d", who, ep.Port)
}

// Endpoints returns the endpoints kube-proxy would use for cluster-wide and
// node-local traffic: the ready ones or, when there are none, the serving
// and terminating ones, decided separately for each set. Both are sorted.
func Endpoints(p service.Port, node string) (cluster, local []service.Endpoint) {
	cluster, local = service.Usable(p.Endpoints, ""), service.Usable(p.Endpoints, node)
	sortEndpoints(cluster)
	sortEndpoints(local)
	return cluster, local
}

func sortEndpoints(eps []service.Endpoint) {
	slices.SortFunc(eps, func(a, b service.Endpoint) int {
		return cmp.Or(a.IP.Compare(b.IP), cmp.Compare(a.Port, b.Port))
	})
}

// port adds everything one service port needs.
func (b *builder) port(p service.Port) {
	id := PortID(p)
	if p.ClusterIP.IsValid() {
		b.elem(SetClusterIPs, Key{Addr: p.ClusterIP}, Verdict{})
	}
	cluster, local := Endpoints(p, b.node.Name)
	external := p.NodePort != 0 || len(p.ExternalIPs) > 0 || len(p.LoadBalancerIPs) > 0
	b.firewall(p, id)
	if len(cluster) == 0 {
		// Nothing can answer: refuse at once instead of letting the
		// client time out. No nat chains at all.
		b.unreachable(p, true, external, gotoV(ChainReject))
		return
	}
	useCluster := !p.InternalLocal || external // external Local still short-circuits pods
	useLocal := (p.InternalLocal || external && p.ExternalLocal) && len(local) > 0
	if useCluster {
		b.pick(p, id, ClusterChain(id), cluster, b.masqueradeOffCluster()...)
	}
	if useLocal {
		var first []Rule
		if p.InternalLocal {
			first = b.masqueradeOffCluster(DaddrPrefix{Prefix: netip.PrefixFrom(p.ClusterIP, p.ClusterIP.BitLen())})
		}
		b.pick(p, id, LocalChain(id), local, first...)
	}

	internal := ClusterChain(id)
	if p.InternalLocal {
		internal = LocalChain(id)
	}
	if p.InternalLocal && !useLocal {
		b.unreachable(p, true, false, Verdict{Kind: Drop})
	} else {
		b.elem(MapServiceIPs, Key{Addr: p.ClusterIP, Proto: p.Protocol, Port: p.Port}, gotoV(internal))
	}
	if !external {
		return
	}
	b.external(p, id, useLocal)
	for _, ip := range externalAddrs(p) {
		b.elem(MapServiceIPs, Key{Addr: ip, Proto: p.Protocol, Port: p.Port}, gotoV(ExternalChain(id)))
	}
	if p.NodePort != 0 {
		b.elem(MapServiceNodePorts, Key{Proto: p.Protocol, Port: p.NodePort}, gotoV(ExternalChain(id)))
	}
	if p.ExternalLocal && !useLocal {
		// What the external chain did not DNAT (anything but pods and the
		// node itself) is dropped by the filter chains.
		b.unreachable(p, false, true, Verdict{Kind: Drop})
	}
}

// unreachable puts a service's internal and/or external destinations into
// the no-endpoint maps that the filter chains consult.
func (b *builder) unreachable(p service.Port, internal, external bool, v Verdict) {
	if internal {
		b.elem(MapNoEndpointServices, Key{Addr: p.ClusterIP, Proto: p.Protocol, Port: p.Port}, v)
	}
	if !external {
		return
	}
	for _, ip := range externalAddrs(p) {
		b.elem(MapNoEndpointServices, Key{Addr: ip, Proto: p.Protocol, Port: p.Port}, v)
	}
	if p.NodePort != 0 {
		b.elem(MapNoEndpointNodePort, Key{Proto: p.Protocol, Port: p.NodePort}, v)
	}
}

// externalAddrs are the addresses of a port that outside clients use
// besides the node ports: external IPs and LoadBalancer IPs.
func externalAddrs(p service.Port) []netip.Addr {
	return append(slices.Clip(p.ExternalIPs), p.LoadBalancerIPs...)
}

// firewall adds kube-proxy's firewall for loadBalancerSourceRanges: new
// connections to a LoadBalancer IP from anywhere else are dropped before
// DNAT. Node ports stay open to all, as in kube-proxy. When a range holds
// the node's own address, the LoadBalancer IPs are allowed as sources too:
// a node that owns the address talks to it from it.
func (b *builder) firewall(p service.Port, id string) {
	if len(p.LoadBalancerIPs) == 0 || len(p.SourceRanges) == 0 {
		return
	}
	var exprs []Expr
	fromNode := false
	for _, r := range v4(p.SourceRanges) {
		exprs = append(exprs, SaddrPrefix{Prefix: r, Not: true})
		fromNode = fromNode || len(b.node.IPs) > 0 && r.Contains(b.node.IPs[0])
	}
	if fromNode {
		for _, ip := range p.LoadBalancerIPs {
			exprs = append(exprs, SaddrPrefix{Prefix: netip.PrefixFrom(ip, ip.BitLen()), Not: true})
		}
	}
	name := FirewallChain(id)
	b.chain(name, nil, rule("source outside loadBalancerSourceRanges", append(exprs, Verdict{Kind: Drop})...))
	for _, ip := range p.LoadBalancerIPs {
		b.elem(MapFirewallIPs, Key{Addr: ip, Proto: p.Protocol, Port: p.Port}, gotoV(name))
	}
}

// external adds the chain for NodePort, external IP and LoadBalancer IP
// traffic.
func (b *builder) external(p service.Port, id string, useLocal bool) {
	name := ExternalChain(id)
	if !p.ExternalLocal {
		b.chain(name, nil,
			rule("external traffic is masqueraded", jump(ChainMarkMasq)),
			rule("", gotoV(ClusterChain(id))))
		return
	}
	rules := []Rule{
		rule("pods on this node use every endpoint", IifName{Name: b.node.bridge()}, gotoV(ClusterChain(id))),
		rule("", FibLocal{Source: true}, jump(ChainMarkMasq)),
		rule("the node itself uses every endpoint", FibLocal{Source: true}, gotoV(ClusterChain(id))),
	}
	if useLocal {
		rules = append(rules, rule("", gotoV(LocalChain(id))))
	}
	b.chain(name, nil, rules...)
}

// masqueradeOffCluster is kube-proxy's first rule of a service's
// internal chain (local-traffic detector in cluster-CIDR mode): traffic to
// the ClusterIP from outside the pod networks, the node itself or a client
// beyond it with a route to the service network, is masqueraded, since its
// endpoint may be on another node whose reply would not come back here to
// be un-DNATed; kube-proxy does so under internalTrafficPolicy Local too.
// In the cluster chain the only unmarked packets are those sent to the
// ClusterIP (external traffic is marked, or from a local pod, before), so
// the rule needs not match the ClusterIP as kube-proxy's does; the local
// chain also carries externalTrafficPolicy Local traffic, which keeps its
// source, so there it matches the ClusterIP (match). Several prefixes: a
// source in none of them.
func (b *builder) masqueradeOffCluster(match ...Expr) []Rule {
	cidrs := v4(b.node.PodCIDRs)
	if len(cidrs) == 0 {
		return nil
	}
	exprs := match
	for _, c := range cidrs {
		exprs = append(exprs, SaddrPrefix{Prefix: c, Not: true})
	}
	return []Rule{rule("off-cluster traffic to the ClusterIP is masqueraded", append(exprs, jump(ChainMarkMasq))...)}
}

// pick adds a chain choosing one of eps uniformly at random, after
// honouring session affinity; first are rules before all that.
func (b *builder) pick(p service.Port, id, name string, eps []service.Endpoint, first ...Rule) {
	rules := first
	for _, ep := range eps {
		b.endpoint(p, id, ep)
		if p.Affinity > 0 {
			rules = append(rules, rule("", SaddrIn{Set: AffinitySet(id, ep)}, gotoV(EndpointChain(id, ep))))
		}
	}
	if b.layout == NamedMaps {
		m := &Map{Name: name, Key: KeyIndex}
		for i, ep := range eps {
			m.Elems = append(m.Elems, Elem{Key: Key{Index: uint32(i)}, Verdict: gotoV(EndpointChain(id, ep))})
		}
		b.addMap(m)
		rules = append(rules, rule("", Vmap{Key: KeyIndex, Mod: uint32(len(eps)), Map: name}))
	} else {
		for i, ep := range eps[:len(eps)-1] {
			rules = append(rules, rule("", RandomIs{Mod: uint32(len(eps) - i)}, gotoV(EndpointChain(id, ep))))
		}
		rules = append(rules, rule("", gotoV(EndpointChain(id, eps[len(eps)-1]))))
	}
	b.chain(name, nil, rules...)
}

// endpoint adds the chain that DNATs to one endpoint (once per service port).
func (b *builder) endpoint(p service.Port, id string, ep service.Endpoint) {
	name := EndpointChain(id, ep)
	if b.chains[name] != nil {
		return
	}
	rules := []Rule{rule("hairpin: a pod reaching itself", SaddrIs{ep.IP}, jump(ChainMarkMasq))}
	if p.Affinity > 0 {
		set := AffinitySet(id, ep)
		b.addMap(&Map{Name: set, Key: KeyAddr, Timeout: p.Affinity, Comment: plan.Shorten("clients stuck to "+endpointName(ep), maxComment)})
		rules = append(rules, rule("", UpdateSaddr{Set: set, Timeout: p.Affinity}))
	}
	rules = append(rules, rule("", L4Proto{p.Protocol}, DNAT{Addr: ep.IP, Port: ep.Port}))
	b.chain(name, nil, rules...)
}
