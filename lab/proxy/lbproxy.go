package proxy

import (
	"net/netip"

	"kinn.dev/kinn/lab/plan"
	"kinn.dev/kinn/lab/service"
)

// The lab's load balancer for addresses of ipMode Proxy, in the switch
// namespace: like a cloud's proxying load balancer (or cloud-provider-kind's
// Envoy) it takes the connection itself and opens one to a node's node
// port, from its own address. The nodes' proxies ignore such addresses, as
// kube-proxy does, so the client's address is never seen by a pod and
// loadBalancerSourceRanges are the load balancer's to enforce — it does,
// as cloud load balancers do.
//
//	nat-prerouting, nat-output -> load-balancer: vmap @load-balancer-ips
//	lb-<id>:      [drop sources outside loadBalancerSourceRanges]
//	              jump mark-for-masquerade; pick a node at random
//	lb-<id>/<node>: dnat to <node address>:<node port>
//	nat-postrouting -> masquerading (as in the nodes)

// Names of the load balancer's fixed chain and map.
const (
	ChainLoadBalancer = "load-balancer"
	MapLoadBalancerIP = "load-balancer-ips"
)

// LoadBalancerChain names the chain choosing a node for one service port.
func LoadBalancerChain(id string) string { return plan.Shorten("lb-"+id, maxName) }

// LoadBalancerNodeChain names the chain forwarding one port to one node.
func LoadBalancerNodeChain(id, node string) string {
	return plan.Shorten("lb-"+id+"/"+node, maxName)
}

// BuildLoadBalancer computes the switch's table: every ipMode Proxy address
// of ports forwarded to the node port on the nodes service.TargetNodes
// chooses among names (the lab's nodes, in order), at addrs[name].
func BuildLoadBalancer(ports []service.Port, names []string, addrs map[string]netip.Addr) *Ruleset {
	b := &builder{chains: map[string]*Chain{}, maps: map[string]*Map{}}
	nat := func(hook string, prio int32) *Hook { return &Hook{Type: "nat", Hook: hook, Priority: prio} }
	b.chain("nat-prerouting", nat("prerouting", -100), rule("", jump(ChainLoadBalancer)))
	b.chain("nat-output", nat("output", -100), rule("", jump(ChainLoadBalancer)))
	b.chain("nat-postrouting", nat("postrouting", 100), rule("", jump(ChainMasquerading)))
	b.chain(ChainLoadBalancer, nil, rule("", Vmap{Key: KeyServiceIP, Map: MapLoadBalancerIP}))
	b.chain(ChainMarkMasq, nil, rule("", MarkMasq{}))
	b.chain(ChainMasquerading, nil,
		rule("", MarkUnset{}, Verdict{Kind: Return}),
		rule("", MarkClear{}),
		rule("", Masquerade{}))
	b.addMap(&Map{Name: MapLoadBalancerIP, Key: KeyServiceIP, Comment: "ipMode Proxy LoadBalancer IPs"})
	for _, p := range ports {
		if len(p.ProxiedLoadBalancerIPs) == 0 || p.NodePort == 0 {
			continue // no node port (allocateLoadBalancerNodePorts false): nothing to forward to
		}
		id := PortID(p)
		b.loadBalancerPort(p, id, service.TargetNodes(p, names), addrs)
		for _, ip := range p.ProxiedLoadBalancerIPs {
			b.elem(MapLoadBalancerIP, Key{Addr: ip, Proto: p.Protocol, Port: p.Port}, gotoV(LoadBalancerChain(id)))
		}
	}
	return b.finish()
}

func (b *builder) loadBalancerPort(p service.Port, id string, nodes []string, addrs map[string]netip.Addr) {
	var rules []Rule
	if len(p.SourceRanges) > 0 {
		var exprs []Expr
		for _, r := range v4(p.SourceRanges) {
			exprs = append(exprs, SaddrPrefix{Prefix: r, Not: true})
		}
		rules = append(rules, rule("source outside loadBalancerSourceRanges", append(exprs, Verdict{Kind: Drop})...))
	}
	rules = append(rules, rule("a proxy connects from its own address", jump(ChainMarkMasq)))
	for i, n := range nodes {
		name := LoadBalancerNodeChain(id, n)
		b.chain(name, nil, rule("", L4Proto{p.Protocol}, DNAT{Addr: addrs[n], Port: p.NodePort}))
		if i < len(nodes)-1 {
			rules = append(rules, rule("", RandomIs{Mod: uint32(len(nodes) - i)}, gotoV(name)))
		} else {
			rules = append(rules, rule("", gotoV(name)))
		}
	}
	b.chain(LoadBalancerChain(id), nil, rules...)
}
