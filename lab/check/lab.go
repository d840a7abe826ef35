package check

import (
	"net/netip"

	"kinn.dev/kinn/lab/plan"
	"kinn.dev/kinn/lab/service"
)

// FromPlan gathers the hosts of a lab's plan and its service ports; dns
// and domain are the cluster DNS's address and domain.
func FromPlan(p *plan.Lab, ports []service.Port, dns netip.Addr, domain string) Lab {
	l := Lab{Ports: ports, DNS: dns, Domain: domain, External: Host{Name: "external", Netns: p.Switch.Netns, IP: p.Switch.Addr.Addr()}}
	for _, pod := range p.Pods {
		if !pod.Attached() {
			continue // a pod whose ADD failed has no network to check
		}
		l.Pods = append(l.Pods, Host{Name: pod.Key(), Netns: pod.Netns, Node: pod.Node, IP: pod.IP.Addr()})
	}
	for _, n := range p.Nodes {
		l.Nodes = append(l.Nodes, Host{Name: "node/" + n.Name, Netns: n.Netns, Node: n.Name, IP: n.Underlay.Addr()})
	}
	return l
}
