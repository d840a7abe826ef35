// Package check is `kinn check`, the lab's pingall in Kubernetes terms:
// every pod to every pod (ICMP), every pod to every service port by
// ClusterIP (TCP, UDP), every node and the outside machine to every
// NodePort on every node, the outside machine to every load-balancer
// address. Plan is pure and decides what each cell must do —
// including the cells the Service's definition says must fail (no
// endpoints: refused; a Local policy without a local endpoint: dropped);
// Run sends the real traffic.
//
// A pod that should be running and is not (its CNI ADD failed, its sandbox
// is gone) is a failed cell of its own, and the Services' expectations
// come from the pods that should be running: a Service whose only pods
// failed must answer, and its refusal fails, naming them. Only what the
// lab's definition says must fail is an expected failure.
package check

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"kinn.dev/kinn/lab/service"
)

// Host is a place traffic starts from.
type Host struct {
	Name  string // pod namespace/name, node/NAME or "external"
	Netns string
	Node  string // the node it is on ("" for external)
	IP    netip.Addr
	// NodePortIP is, for a node, the address its NodePorts are probed on:
	// the first its proxy serves them on (by default its primary address,
	// never cni0's gateway nor 127.0.0.1). Invalid: it serves none.
	NodePortIP netip.Addr
}

// Expect is what a cell must show.
type Expect string

const (
	Pass   Expect = "pass"
	Refuse Expect = "refused" // no endpoints: rejected at once
	Drop   Expect = "dropped" // a Local policy without a local endpoint
)

// Cell is one check.
type Cell struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Proto  string `json:"proto"` // ICMP, TCP, UDP
	Addr   string `json:"addr"`  // ip or ip:port
	Expect Expect `json:"expect"`
	Result string `json:"result"` // ok, refused, timeout, failed
	Detail string `json:"detail,omitempty"`
	Passed bool   `json:"passed"`
	// Query is a name to resolve through the cluster DNS first: a DNS
	// cell reaches Addr only if the name resolves to its address.
	Query string `json:"query,omitempty"`
	// Kind, FromNode and ToNode place the cell in the summary: the node
	// traffic leaves from (or "external") and the node it is meant to
	// reach, the nodes of a Service's endpoints as kube-proxy would pick
	// them for this client (joined with ","), or NoEndpoints.
	Kind     Kind   `json:"kind"`
	FromNode string `json:"fromNode"`
	ToNode   string `json:"toNode"`
	from     Host
	dns      netip.Addr // the cluster DNS a DNS cell asks
	note     string     // what to say when it fails: its endpoints that are not running
}

// Down is a pod that should be running and is not.
type Down struct {
	Name, Node string
	Why        string
}

// ProtoSandbox marks a pod's own cell: its sandbox must exist.
const ProtoSandbox = "CNI"

// Lab is what Plan needs to know.
type Lab struct {
	Pods     []Host
	Down     []Down // pods that should be running and are not
	Nodes    []Host
	External Host
	Ports    []service.Port
	DNS      netip.Addr // the kube-dns Service's address; invalid: no DNS cells
	Domain   string     // the cluster domain
}

// Plan lists every cell.
func Plan(l Lab) []Cell {
	var cells []Cell
	for _, d := range l.Down {
		cells = append(cells, Cell{From: d.Name, To: "its sandbox on " + d.Node, Proto: ProtoSandbox, Expect: Pass,
			Result: "failed", Detail: d.Why, Kind: KindSandbox, FromNode: d.Node, ToNode: d.Node})
	}
	for _, a := range l.Pods {
		for _, b := range l.Pods {
			if a.Name != b.Name {
				cells = append(cells, Cell{From: a.Name, To: b.Name, Proto: "ICMP", Addr: b.IP.String(), Expect: Pass, from: a,
					Kind: KindICMP, FromNode: nodeOf(a), ToNode: b.Node})
			}
		}
	}
	for _, p := range l.Ports {
		if p.Protocol == service.SCTP {
			continue
		}
		to := fmt.Sprintf("%s/%s:%d", p.Namespace, p.Service, p.Port)
		query := ""
		if p.ClusterIP == l.DNS && p.Port == 53 {
			query = "kubernetes.default.svc." + l.Domain // DNS speaks DNS, not netexec
		}
		first := len(cells)
		for _, a := range l.Pods {
			cells = append(cells, Cell{From: a.Name, To: to, Proto: string(p.Protocol),
				Addr: addrPort(p.ClusterIP, p.Port), Expect: expectCluster(p, a.Node), Query: query, from: a, dns: l.DNS,
				Kind: clusterIPKind(p.Protocol), FromNode: nodeOf(a), ToNode: clusterNodes(p, a.Node)})
		}
		cells = append(cells, loadBalancerCells(p, l.External)...)
		cells = append(cells, nodePortCells(p, l)...)
		noteDown(cells[first:], p, l.Down)
	}
	return append(cells, byName(l)...)
}

// nodePortCells: every node, and the outside when it has a route to the
// address, reaches the port's NodePort on every node.
func nodePortCells(p service.Port, l Lab) []Cell {
	if p.NodePort == 0 {
		return nil
	}
	var cells []Cell
	for _, n := range l.Nodes {
		if !n.NodePortIP.IsValid() {
			continue // nodePortAddresses matches none of its addresses
		}
		to := fmt.Sprintf("%s/%s nodePort %d on %s", p.Namespace, p.Service, p.NodePort, n.Node)
		srcs := slices.Clone(l.Nodes)
		if n.NodePortIP == n.IP {
			// The outside has a route to the nodes' underlay only.
			srcs = append(srcs, l.External)
		}
		for _, src := range srcs {
			cells = append(cells, Cell{From: src.Name, To: to, Proto: string(p.Protocol),
				Addr: addrPort(n.NodePortIP, p.NodePort), Expect: expectNodePort(p, src, n.Node), from: src,
				Kind: KindNodePort, FromNode: nodeOf(src), ToNode: n.Node})
		}
	}
	return cells
}

// noteDown tells the port's cells which of its endpoints are pods that
// are not running, to say so if they fail.
func noteDown(cells []Cell, p service.Port, down []Down) {
	var names []string
	for _, e := range p.Endpoints {
		key := e.Namespace + "/" + e.Pod
		if slices.ContainsFunc(down, func(d Down) bool { return d.Name == key }) {
			names = append(names, key)
		}
	}
	if len(names) == 0 {
		return
	}
	note := "endpoints not running: " + strings.Join(names, ", ")
	for i := range cells {
		cells[i].note = note
	}
}

// loadBalancerCells: the outside reaches each load-balancer address of the
// port, through the switch's routes to the nodes or, for ipMode Proxy,
// the switch's forwarding to the node port.
func loadBalancerCells(p service.Port, ext Host) []Cell {
	var cells []Cell
	for _, ip := range append(slices.Clip(p.LoadBalancerIPs), p.ProxiedLoadBalancerIPs...) {
		to := fmt.Sprintf("%s/%s loadBalancer %s", p.Namespace, p.Service, ip)
		cells = append(cells, Cell{From: ext.Name, To: to, Proto: string(p.Protocol),
			Addr: addrPort(ip, p.Port), Expect: expectLoadBalancer(p, ext), from: ext,
			Kind: KindLoadBalancer, FromNode: nodeOf(ext), ToNode: endpointNodes(p.Endpoints, "")})
	}
	return cells
}

// expectLoadBalancer: loadBalancerSourceRanges are checked first, before
// DNAT (a client outside them is dropped); then the Service needs an
// endpoint. A Local policy needs none on a particular node: the switch
// routes only to nodes that have one.
func expectLoadBalancer(p service.Port, src Host) Expect {
	if len(p.SourceRanges) > 0 && !slices.ContainsFunc(p.SourceRanges, func(r netip.Prefix) bool { return r.Contains(src.IP) }) {
		return Drop
	}
	if len(p.LoadBalancerIPs) == 0 && p.NodePort == 0 {
		return Drop // ipMode Proxy without a node port: nothing to forward to
	}
	if usable(p.Endpoints, "") == 0 {
		return Refuse
	}
	return Pass
}

// byName: every pod resolves every Service's name through the cluster DNS
// and reaches the Service's first port through the address it got.
func byName(l Lab) []Cell {
	if !l.DNS.IsValid() {
		return nil
	}
	var cells []Cell
	seen := map[string]bool{}
	for _, p := range l.Ports {
		key := p.Namespace + "/" + p.Service
		if seen[key] || p.Protocol == service.SCTP || !p.ClusterIP.IsValid() {
			continue
		}
		seen[key] = true
		name := fmt.Sprintf("%s.%s.svc.%s", p.Service, p.Namespace, l.Domain)
		first := len(cells)
		for _, a := range l.Pods {
			cells = append(cells, Cell{From: a.Name, To: name + fmt.Sprintf(":%d/%s", p.Port, p.Protocol), Proto: "DNS+" + string(p.Protocol),
				Addr: addrPort(p.ClusterIP, p.Port), Expect: expectCluster(p, a.Node), Query: name, from: a, dns: l.DNS,
				Kind: KindDNS, FromNode: nodeOf(a), ToNode: clusterNodes(p, a.Node)})
		}
		noteDown(cells[first:], p, l.Down)
	}
	return cells
}

func addrPort(ip netip.Addr, port uint16) string {
	return netip.AddrPortFrom(ip, port).String()
}

// usable counts the endpoints kube-proxy would use among eps (on node,
// unless it is "").
func usable(eps []service.Endpoint, node string) int { return len(service.Usable(eps, node)) }

func expectCluster(p service.Port, clientNode string) Expect {
	if p.InternalLocal {
		if usable(p.Endpoints, clientNode) == 0 {
			if usable(p.Endpoints, "") == 0 {
				return Refuse
			}
			return Drop
		}
		return Pass
	}
	if usable(p.Endpoints, "") == 0 {
		return Refuse
	}
	return Pass
}

// expectNodePort: with externalTrafficPolicy Local, traffic from outside
// the target node uses only its endpoints; the node's own traffic is
// short-circuited to the cluster-wide set, as in kube-proxy.
func expectNodePort(p service.Port, src Host, target string) Expect {
	all := usable(p.Endpoints, "")
	if all == 0 {
		return Refuse
	}
	if p.ExternalLocal && src.Node != target && usable(p.Endpoints, target) == 0 {
		return Drop
	}
	return Pass
}
