package service

import (
	"cmp"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"kinn.dev/kinn/topology"
)

// kinn's load-balancer controller, as cloud-provider-kind or MetalLB: a
// LoadBalancer Service without a loadBalancerClass gets one address of the
// lab's pool (its spec.loadBalancerIP if it asks for one), reported in
// status.loadBalancer.ingress. A Service with a class belongs to another
// controller, which a lab does not have: it stays <pending>, as in a
// cluster. So does every Service once the pool is used up, as MetalLB
// leaves them.

// ServedByController reports whether kinn's controller gives svc an address.
func ServedByController(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeLoadBalancer && svc.Spec.LoadBalancerClass == nil
}

// allocateLoadBalancerIPs keeps what prev gave Services that still qualify,
// then honours spec.loadBalancerIP, then hands out the lowest free address
// in Service order.
func allocateLoadBalancerIPs(prev map[string]netip.Addr, pool topology.LoadBalancer, svcs []*corev1.Service) (map[string]netip.Addr, []error) {
	out := map[string]netip.Addr{}
	if len(pool.Pool) == 0 {
		return out, nil
	}
	taken := map[netip.Addr]string{}
	var want []*corev1.Service
	for _, svc := range sortedByKey(svcs) {
		if !ServedByController(svc) {
			continue
		}
		asked := requestedLBIP(svc)
		if a, ok := prev[Key(svc)]; ok && pool.Contains(a) && (!asked.IsValid() || asked == a) {
			out[Key(svc)], taken[a] = a, Key(svc)
			continue
		}
		want = append(want, svc)
	}
	var errs []error
	var rest []*corev1.Service
	for _, svc := range want {
		a := requestedLBIP(svc)
		switch {
		case !a.IsValid():
			rest = append(rest, svc)
		case !pool.Contains(a):
			errs = append(errs, fmt.Errorf("Service %s: spec.loadBalancerIP %s is outside the load-balancer pool %s (loadBalancer.addresses of the cluster document)", Key(svc), a, pool.Addresses()))
		case taken[a] != "":
			errs = append(errs, fmt.Errorf("Service %s: spec.loadBalancerIP %s is already Service %s's; choose another address", Key(svc), a, taken[a]))
		default:
			out[Key(svc)], taken[a] = a, Key(svc)
		}
	}
	next := poolWalker(pool.Pool)
	for _, svc := range rest {
		a, ok := next(taken)
		if !ok {
			break // the pool is used up: the rest stay <pending>
		}
		out[Key(svc)], taken[a] = a, Key(svc)
	}
	return out, errs
}

func requestedLBIP(svc *corev1.Service) netip.Addr {
	a, _ := netip.ParseAddr(svc.Spec.LoadBalancerIP)
	return a
}

// poolWalker returns the pool's free addresses lowest first, skipping
// taken ones; it never revisits an address.
func poolWalker(pool []netip.Prefix) func(taken map[netip.Addr]string) (netip.Addr, bool) {
	i, a := 0, netip.Addr{}
	return func(taken map[netip.Addr]string) (netip.Addr, bool) {
		for i < len(pool) {
			if !a.IsValid() {
				a = pool[i].Masked().Addr()
			} else {
				a = a.Next()
			}
			if !a.IsValid() || !pool[i].Contains(a) {
				i, a = i+1, netip.Addr{}
				continue
			}
			if taken[a] == "" {
				return a, true
			}
		}
		return netip.Addr{}, false
	}
}

func sortedByKey(svcs []*corev1.Service) []*corev1.Service {
	out := slices.Clone(svcs)
	slices.SortStableFunc(out, func(a, b *corev1.Service) int { return strings.Compare(Key(a), Key(b)) })
	return out
}

// ingress is status.loadBalancer.ingress for a Service given address a.
func ingress(a netip.Addr, ipMode string) []corev1.LoadBalancerIngress {
	mode := corev1.LoadBalancerIPMode(cmp.Or(ipMode, topology.IPModeVIP))
	return []corev1.LoadBalancerIngress{{IP: a.String(), IPMode: &mode}}
}

// Route is where the lab's switch sends one load-balancer address: to
// every node listed, spread per connection (ECMP), as MetalLB in BGP mode
// announces it from the nodes.
type Route struct {
	Addr  netip.Addr
	Nodes []string // sorted; never empty
}

// Routes are the switch's routes for the ports' load-balancer addresses:
// with externalTrafficPolicy Cluster every node, since each one's proxy
// forwards to any endpoint; with Local only the nodes that have a usable
// endpoint of the Service (ready, or serving and terminating when no ready
// one is left there), since the others drop the traffic — as a cloud load
// balancer's health checks (the Service's healthCheckNodePort) or MetalLB
// decide. When no node has one, every node, as cloud load balancers fail
// open: the proxies then refuse (no endpoints at all) as kube-proxy does.
// nodes are all the lab's nodes.
func Routes(ports []Port, nodes []string) []Route {
	via := map[netip.Addr]map[string]bool{}
	for _, p := range ports {
		take := TargetNodes(p, nodes)
		for _, a := range p.LoadBalancerIPs {
			if via[a] == nil {
				via[a] = map[string]bool{}
			}
			for _, n := range take {
				via[a][n] = true
			}
		}
	}
	var out []Route
	for a, ns := range via {
		if len(ns) > 0 {
			out = append(out, Route{Addr: a, Nodes: slices.Sorted(maps.Keys(ns))})
		}
	}
	slices.SortFunc(out, func(x, y Route) int { return x.Addr.Compare(y.Addr) })
	return out
}

// TargetNodes are the nodes a load balancer sends a port's traffic to (see
// Routes), in the order of nodes.
func TargetNodes(p Port, nodes []string) []string {
	if !p.ExternalLocal {
		return nodes
	}
	take := slices.DeleteFunc(slices.Clone(nodes), func(n string) bool { return !hasLocalEndpoint(p, n) })
	if len(take) == 0 {
		return nodes
	}
	return take
}

// hasLocalEndpoint: the endpoints kube-proxy's Local policy would use on
// node are not none.
func hasLocalEndpoint(p Port, node string) bool { return len(Usable(p.Endpoints, node)) > 0 }
