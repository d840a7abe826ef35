package proxy

import "strings"

// Meaning says what one fixed chain, set or map of the kinn table is for,
// or one family of per-Service objects (Name a prefix ending in "-"), in
// Kubernetes terms: `kinn rules` and the Rules screen print it next to the
// live counters so that `nft list ruleset` can be read. Every chain and map
// Build makes has one (TestEveryBuiltObjectHasAMeaning).
type Meaning struct {
	Name string
	Kind string // "chain", "set" or "map"
	// PerService: Name is the prefix of one object per Service port (or
	// per endpoint of one), named after its port ID.
	PerService bool
	// KubeProxy is the name kube-proxy's nftables mode gives the same
	// thing, when it differs.
	KubeProxy string
	Short     string // a phrase, for narrow places
	Text      string // one or two sentences
}

// meanings are in the order a packet meets them: hooked chains, the
// dispatch and its maps, the checks, masquerading, the per-Service chains.
// Firewall objects (loadBalancerSourceRanges) are named literally: they
// come with LoadBalancer Services.
var meanings = []Meaning{
	{Name: "filter-prerouting-pre-dnat", Kind: "chain",
		Short: "before DNAT, new connections: firewall-check",
		Text: "Before DNAT rewrites the destination (priority -110), a new connection arriving at the node goes through firewall-check, " +
			"so that loadBalancerSourceRanges see the LoadBalancer IP the client asked for."},
	{Name: "filter-output-pre-dnat", Kind: "chain",
		Short: "the same for connections the node starts",
		Text:  "The same as filter-prerouting-pre-dnat for connections the node itself starts."},
	{Name: "nat-prerouting", Kind: "chain",
		Short: "DNAT of arriving packets: jump services",
		Text: "The first packet of every connection arriving from a pod or the wire jumps to services, which DNATs a Service address " +
			"to an endpoint; conntrack translates the rest of the connection alike."},
	{Name: "nat-output", Kind: "chain",
		Short: "DNAT of the node's own packets: jump services",
		Text:  "The same for connections the node itself starts (host-network processes)."},
	{Name: ChainServices, Kind: "chain",
		Short: "Service dispatch through @service-ips and @service-nodeports",
		Text: "Service dispatch: `ip daddr . meta l4proto . th dport vmap @service-ips` sends a ClusterIP, external IP or LoadBalancer IP port " +
			"to its Service port's chain; a packet to one of @nodeport-ips goes by protocol and port through @service-nodeports."},
	{Name: MapServiceIPs, Kind: "map",
		Short: "Service IP . proto . port -> its Service chain",
		Text:  "ClusterIP, external IP and LoadBalancer IP . protocol . port -> goto the Service port's svc- (ClusterIP) or ext- chain: one element per frontend that has endpoints."},
	{Name: MapServiceNodePorts, Kind: "map",
		Short: "proto . NodePort -> its Service's ext- chain",
		Text:  "protocol . NodePort -> goto the Service port's ext- chain, for packets addressed to one of @nodeport-ips."},
	{Name: SetNodePortIPs, Kind: "set",
		Short: "the addresses NodePorts answer on",
		Text: "The addresses NodePorts answer on: kube-proxy's nodePortAddresses, by default \"primary\": the node's underlay address only. " +
			"Never 127.0.0.1, as kube-proxy: DNAT from loopback would need route_localnet."},
	{Name: "filter-input", Kind: "chain",
		Short: "new connections to the node: endpoints-check",
		Text:  "After DNAT, a new connection to the node itself (a NodePort, say) goes through endpoints-check."},
	{Name: "filter-forward", Kind: "chain",
		Short: "new routed connections: endpoints-check, cluster-ips-check",
		Text: "After DNAT, new connections routed through the node (from and to pods) go through endpoints-check, then cluster-ips-check. " +
			"No `ct state invalid drop`: kube-proxy removed it (kubernetes PR #122663), as it dropped traffic that was none of the proxy's concern."},
	{Name: "filter-output", Kind: "chain",
		Short: "the node's new connections: the same two checks",
		Text:  "After DNAT, the same two checks for new connections the node itself starts."},
	{Name: "firewall-check", Kind: "chain",
		Short: "LoadBalancer IP:port -> its firewall- chain",
		Text:  "`ip daddr . meta l4proto . th dport vmap @firewall-ips`: a new connection to a LoadBalancer IP and port whose Service has loadBalancerSourceRanges goes to that Service port's firewall- chain."},
	{Name: "firewall-ips", Kind: "map",
		Short: "LoadBalancer IP . proto . port -> firewall- chain",
		Text:  "LoadBalancer IP . protocol . port -> goto that Service port's firewall- chain: the Services with loadBalancerSourceRanges."},
	{Name: ChainEndpointsCheck, Kind: "chain", KubeProxy: "service-endpoints-check + nodeport-endpoints-check",
		Short: "refuse Services without usable endpoints",
		Text: "A new connection to a Service port without a usable endpoint is looked up in @no-endpoint-services (or, to one of @nodeport-ips, @no-endpoint-nodeports) " +
			"and rejected at once instead of timing out, or dropped under a Local traffic policy with no endpoint on this node."},
	{Name: MapNoEndpointServices, Kind: "map",
		Short: "Service IP . proto . port without endpoints -> reject/drop",
		Text:  "ClusterIP, external IP and LoadBalancer IP . protocol . port with no usable endpoint -> goto reject (none anywhere) or drop (traffic policy Local, none on this node)."},
	{Name: MapNoEndpointNodePort, Kind: "map",
		Short: "proto . NodePort without endpoints -> reject/drop",
		Text:  "protocol . NodePort with no usable endpoint -> goto reject, or drop (externalTrafficPolicy Local, none on this node)."},
	{Name: ChainClusterIPsCheck, Kind: "chain",
		Short: "refuse ClusterIP ports that do not exist",
		Text: "After DNAT a new connection still addressed to a ClusterIP matched none of its Service's ports: it is rejected (@cluster-ips). " +
			"One to an address of the service CIDR that no Service owns is dropped."},
	{Name: SetClusterIPs, Kind: "set",
		Short: "every Service's ClusterIP",
		Text:  "Every Service's ClusterIP, with or without endpoints: cluster-ips-check rejects new connections to one of them on a port no Service has."},
	{Name: ChainReject, Kind: "chain", KubeProxy: "reject-chain",
		Short: "reject: ICMP port unreachable",
		Text:  "A plain `reject`, ICMP port unreachable for every protocol as kube-proxy's, which a TCP client sees as \"connection refused\"."},
	{Name: "nat-postrouting", Kind: "chain",
		Short: "source NAT: jump masquerading",
		Text:  "The first packet of every connection leaving the node jumps to masquerading."},
	{Name: ChainMarkMasq, Kind: "chain",
		Short: "mark a packet 0x4000: masquerade it on the way out",
		Text: "Sets mark 0x4000 on a packet whose source must become this node's: an off-cluster client of a ClusterIP, NodePort and external traffic " +
			"under policy Cluster, a pod reaching itself through its Service (hairpin), so that replies come back through this node."},
	{Name: ChainMasquerading, Kind: "chain",
		Short: "masquerade fully-random the packets marked 0x4000",
		Text:  "Packets without mark 0x4000 return untouched; the marked ones have it cleared and are masqueraded fully-random to the address of the interface they leave by."},
	{Name: "svc-", Kind: "chain", PerService: true, KubeProxy: "service-",
		Short: "one Service port, all endpoints (policy Cluster)",
		Text: "One per Service port: masquerades off-cluster clients, then picks one of the Service's endpoints in the whole cluster at random " +
			"(or the one a client is stuck to: sessionAffinity ClientIP) and goes to its ep- chain."},
	{Name: "local-", Kind: "chain", PerService: true,
		Short: "one Service port, this node's endpoints (policy Local)",
		Text:  "The same choice among this node's endpoints only: internalTrafficPolicy or externalTrafficPolicy Local."},
	{Name: "ext-", Kind: "chain", PerService: true, KubeProxy: "external-",
		Short: "NodePort, external and LoadBalancer traffic of one port",
		Text: "NodePort, external IP and LoadBalancer traffic of one Service port: masquerade and svc- (externalTrafficPolicy Cluster), " +
			"or keep the client's address and use local- (Local; pods and the node itself short-circuit to svc-)."},
	{Name: "firewall-", Kind: "chain", PerService: true,
		Short: "drop sources outside loadBalancerSourceRanges",
		Text:  "One per Service port with loadBalancerSourceRanges: drops new connections to its LoadBalancer IP from sources outside the ranges."},
	{Name: "ep-", Kind: "chain", PerService: true, KubeProxy: "endpoint-",
		Short: "one endpoint: hairpin mark, affinity, DNAT",
		Text: "One per endpoint of a Service port: marks a pod reaching itself (hairpin) for masquerade, remembers the client in its aff- set " +
			"under session affinity, and DNATs to the pod's IP and port."},
	{Name: "aff-", Kind: "set", PerService: true, KubeProxy: "affinity-",
		Short: "clients stuck to one endpoint (session affinity)",
		Text:  "Clients stuck to one endpoint (sessionAffinity ClientIP): the kernel adds them as they connect and forgets them after timeoutSeconds idle."},
}

// Meanings lists every fixed chain, set and map of the table and every
// family of per-Service objects, in the order a packet meets them.
func Meanings() []Meaning { return append([]Meaning(nil), meanings...) }

// MeaningOf is the meaning of a chain, set or map of the table: its own if
// it is a fixed one, else its per-Service family's.
func MeaningOf(name string) (Meaning, bool) {
	for _, m := range meanings {
		if !m.PerService && m.Name == name {
			return m, true
		}
	}
	for _, m := range meanings {
		if m.PerService && strings.HasPrefix(name, m.Name) {
			return m, true
		}
	}
	return Meaning{}, false
}
