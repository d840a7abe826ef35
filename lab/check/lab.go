package check

import (
	"net/netip"

	"kinn.dev/kinn/lab/plan"
	"kinn.dev/kinn/lab/service"
)

// FromPlan gathers the hosts of a lab's plan and its service ports; dns
// and domain are the cluster DNS's address and domain; nodePortIPs are the
// addresses a node's proxy serves NodePorts on.
func FromPlan(p *plan.Lab, ports []service.Port, dns netip.Addr, domain string, nodePortIPs func(plan.Node) []netip.Addr) Lab {
	l := Lab{Ports: ports, DNS: dns, Domain: domain, External: Host{Name: "external", Netns: p.Switch.Netns, IP: p.Switch.Addr.Addr()}}
	for _, pod := range p.Pods {
		if !pod.Attached() {
			continue // a pod whose ADD failed has no network to check
		}
		l.Pods = append(l.Pods, Host{Name: pod.Key(), Netns: pod.Netns, Node: pod.Node, IP: pod.IP.Addr()})
	}
	for _, n := range p.Nodes {
		h := Host{Name: "node/" + n.Name, Netns: n.Netns, Node: n.Name, IP: n.Underlay.Addr()}
		if ips := nodePortIPs(n); len(ips) > 0 {
			h.NodePortIP = ips[0]
		}
		l.Nodes = append(l.Nodes, h)
	}
	return l
}
