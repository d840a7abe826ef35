package check

import (
	"cmp"
	"net/netip"

	"kinn.dev/kinn/lab/plan"
	"kinn.dev/kinn/lab/service"
)

// Input is what FromPlan reads of a lab.
type Input struct {
	Plan *plan.Lab
	// Ports are the Services' ports with the endpoints they would have if
	// every pod that should run did: a Service left without endpoints
	// because its pods failed must not pass for an expected refusal.
	Ports  []service.Port
	DNS    netip.Addr // the cluster DNS's address
	Domain string
	// NodePortIPs are the addresses a node's proxy serves NodePorts on.
	NodePortIPs func(plan.Node) []netip.Addr
	// Live reports whether a network namespace exists.
	Live func(netns string) bool
}

// FromPlan gathers the hosts of a lab's plan and its service ports. A pod
// without a sandbox (its ADD failed, its node's network is not ready, its
// namespace is gone) sends nothing: it is a failure of its own.
func FromPlan(in Input) Lab {
	p := in.Plan
	l := Lab{Ports: in.Ports, DNS: in.DNS, Domain: in.Domain, External: Host{Name: "external", Netns: p.Switch.Netns, IP: p.Switch.Addr.Addr()}}
	for _, pod := range p.Pods {
		if !pod.Attached() || !in.Live(pod.Netns) {
			why := cmp.Or(pod.Error, "its network namespace "+pod.Netns+" does not exist (`kinn up` makes it again)")
			l.Down = append(l.Down, Down{Name: pod.Key(), Node: pod.Node, Why: why})
			continue
		}
		l.Pods = append(l.Pods, Host{Name: pod.Key(), Netns: pod.Netns, Node: pod.Node, IP: pod.IP.Addr()})
	}
	for _, n := range p.Nodes {
		h := Host{Name: "node/" + n.Name, Netns: n.Netns, Node: n.Name, IP: n.Underlay.Addr()}
		if ips := in.NodePortIPs(n); len(ips) > 0 {
			h.NodePortIP = ips[0]
		}
		l.Nodes = append(l.Nodes, h)
	}
	return l
}
