package lab

import (
	"fmt"

	"kinn.dev/kinn/lab/netpol"
)

// PolicyCluster is what NetworkPolicy verdicts depend on, as the lab has it
// now: the namespaces with their labels, every pod with the address it has
// (host-network pods aside: policies never select them) and the policies.
func (s *State) PolicyCluster() (*netpol.Cluster, error) {
	var nss []netpol.Namespace
	for _, name := range s.Topology.Namespaces {
		nss = append(nss, netpol.Namespace{Name: name, Labels: s.Topology.NamespaceLabels[name]})
	}
	var pods []*netpol.Pod
	for _, tp := range s.Topology.Pods {
		pp, ok := s.planPod(tp.Key())
		if !ok || tp.Pod.Spec.HostNetwork || !pp.IP.IsValid() {
			continue
		}
		pod := &netpol.Pod{Namespace: tp.Namespace, Name: tp.Name, Labels: tp.Pod.Labels, IP: pp.IP.Addr(), Node: tp.Node}
		for _, c := range tp.Pod.Spec.Containers {
			pod.Ports = append(pod.Ports, c.Ports...)
		}
		pods = append(pods, pod)
	}
	var policies []*netpol.Policy
	for _, np := range s.Topology.NetworkPolicies {
		p, err := netpol.Compile(np)
		if err != nil {
			return nil, fmt.Errorf("network policy %s/%s: %w", np.Namespace, np.Name, err)
		}
		policies = append(policies, p)
	}
	return netpol.NewCluster(nss, pods, policies), nil
}
