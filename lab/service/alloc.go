package service

// Allocation follows the apiserver's allocators, made deterministic so that
// the result depends only on (prev, services):
//
//   - What a Service already holds stays with it, and wins over a Service that
//     asks for the same value later: in Kubernetes the second create fails.
//   - Values a Service asks for come next; collisions are errors that say what
//     to change.
//   - Everything else gets the lowest free value of the range's upper band,
//     then of its lower band. The apiserver keeps the lower band for values
//     people write by hand (KEP-3070 for ClusterIPs, KEP-3668 for NodePorts),
//     so a later file asking for 10.96.0.20 or 30080 rarely collides with a
//     value kinn picked on its own.

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"kinn.dev/kinn/topology"
)

// Allocations are the ClusterIPs and node ports handed out to a lab's
// Services. They are kept between runs so that a Service keeps its values
// for as long as it exists.
type Allocations struct {
	ClusterIPs  map[string]netip.Addr `json:"clusterIPs,omitempty"`  // namespace/name
	NodePorts   map[string]uint16     `json:"nodePorts,omitempty"`   // NodePortKey: namespace/name:port/PROTOCOL
	HealthCheck map[string]uint16     `json:"healthCheck,omitempty"` // namespace/name
	// LoadBalancerIPs are the load-balancer controller's addresses, by
	// namespace/name, and IPMode the ipMode it reports for them.
	LoadBalancerIPs map[string]netip.Addr `json:"loadBalancerIPs,omitempty"`
	IPMode          string                `json:"ipMode,omitempty"`
}

// Key is a Service's namespace/name, the key of ClusterIPs and HealthCheck.
func Key(svc *corev1.Service) string { return svc.Namespace + "/" + svc.Name }

// NodePortKey is the key of one service port in NodePorts; it is the same
// as that port's Port.Key.
func NodePortKey(svc *corev1.Service, p corev1.ServicePort) string {
	return Key(svc) + ":" + p.Name + "/" + string(protocol(p.Protocol))
}

// The addresses a later issue gives the cluster's own Services, as kubeadm
// does: the first one to "kubernetes", the tenth to "kube-dns". Nobody else
// may have them, even before those Services exist, or adding them would
// renumber a running lab.
const (
	KubernetesService = "default/kubernetes"
	KubeDNSService    = "kube-system/kube-dns"
)

// Allocate gives every Service that needs one a ClusterIP from subnet,
// node ports and a load-balancer address from lb's pool, keeping what prev
// gave Services that still exist. It reports every problem at once.
func Allocate(prev Allocations, subnet netip.Prefix, lb topology.LoadBalancer, svcs []*corev1.Service) (Allocations, error) {
	if !subnet.IsValid() || !subnet.Addr().Is4() || subnet.Bits() > 30 {
		return Allocations{}, fmt.Errorf("serviceSubnet %s: ClusterIPs need an IPv4 subnet of /30 or larger", subnet)
	}
	errs := duplicates(svcs)
	ips, ipErrs := allocateClusterIPs(prev.ClusterIPs, newIPRange(subnet), svcs)
	ports, hc, portErrs := allocateNodePorts(prev, svcs)
	lbIPs, lbErrs := allocateLoadBalancerIPs(prev.LoadBalancerIPs, lb, svcs)
	errs = append(append(append(errs, ipErrs...), portErrs...), lbErrs...)
	errs = append(errs, checkExternalIPs(svcs)...)
	if len(errs) > 0 {
		return Allocations{}, joinSorted(errs)
	}
	return Allocations{ClusterIPs: ips, NodePorts: ports, HealthCheck: hc, LoadBalancerIPs: lbIPs, IPMode: lb.IPMode}, nil
}

func duplicates(svcs []*corev1.Service) []error {
	var errs []error
	seen := map[string]bool{}
	for _, svc := range svcs {
		if seen[Key(svc)] {
			errs = append(errs, fmt.Errorf("Service %s is listed twice; keep one", Key(svc)))
		}
		seen[Key(svc)] = true
	}
	return errs
}

// checkExternalIPs: the topology accepts any string there, and the proxy
// can only program IPv4 addresses.
func checkExternalIPs(svcs []*corev1.Service) []error {
	var errs []error
	for _, svc := range svcs {
		for i, s := range svc.Spec.ExternalIPs {
			if a, err := netip.ParseAddr(s); err != nil || !a.Is4() {
				errs = append(errs, fmt.Errorf("Service %s: spec.externalIPs[%d] %q must be an IPv4 address", Key(svc), i, s))
			}
		}
	}
	return errs
}

// joinSorted joins errors in a stable order, one per line.
func joinSorted(errs []error) error {
	slices.SortStableFunc(errs, func(a, b error) int { return cmp.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

func protocol(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}
