package lab

import "kinn.dev/kinn/lab/service"

// ServicePorts is every Service port of the lab with its endpoints, ready
// as r says: what the lab's proxies program, and so what `kinn rules`,
// `kinn trace` and the terminal UI read the kernel's rules against.
func (s *State) ServicePorts(r Readiness) []service.Port {
	return service.Ports(s.Services, s.Topology.EndpointSlices, s.PodStates(r))
}
