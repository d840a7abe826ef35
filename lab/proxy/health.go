package proxy

import (
	"cmp"
	"net/netip"
	"slices"

	"kinn.dev/kinn/lab/service"
)

// HealthCheck is one health-check node port a node serves for
// externalTrafficPolicy: Local services: /healthz answers 200 while
// LocalEndpoints > 0 and 503 otherwise, so load balancers skip nodes without
// a local endpoint. It is not part of the nftables ruleset.
type HealthCheck struct {
	NodePort       uint16
	LocalEndpoints int
	Services       []string // namespace/name of the services using the port
}

// HealthChecks lists the health-check node ports of ports, with the number of
// distinct ready endpoints on node (as kube-proxy counts them), sorted by port.
func HealthChecks(node Node, ports []service.Port) []HealthCheck {
	type acc struct {
		ips      map[netip.Addr]bool
		services []string
	}
	by := map[uint16]*acc{}
	for _, p := range ports {
		if !p.ExternalLocal || p.HealthCheckNodePort == 0 {
			continue
		}
		a := by[p.HealthCheckNodePort]
		if a == nil {
			a = &acc{ips: map[netip.Addr]bool{}}
			by[p.HealthCheckNodePort] = a
		}
		if svc := p.Namespace + "/" + p.Service; !slices.Contains(a.services, svc) {
			a.services = append(a.services, svc)
		}
		for _, ep := range p.Endpoints {
			if ep.Ready && ep.Node == node.Name {
				a.ips[ep.IP] = true
			}
		}
	}
	var out []HealthCheck
	for port, a := range by {
		slices.Sort(a.services)
		out = append(out, HealthCheck{NodePort: port, LocalEndpoints: len(a.ips), Services: a.services})
	}
	slices.SortFunc(out, func(a, b HealthCheck) int { return cmp.Compare(a.NodePort, b.NodePort) })
	return out
}
