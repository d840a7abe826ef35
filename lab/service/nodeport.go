package service

import (
	"cmp"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
)

// The apiserver's default --service-node-port-range.
const (
	NodePortMin = 30000
	NodePortMax = 32767
)

// nodePortBand is the lower band of the node port range: size/32, at least
// 16, at most 128 — 86 ports for the default range.
var nodePortBand = uint16(min(max(16, (NodePortMax-NodePortMin+1)/32), 128))

// A node port is taken per protocol: TCP 30080 and UDP 30080 are two.
type portKey struct {
	port  uint16
	proto corev1.Protocol
}

func (k portKey) String() string { return fmt.Sprintf("%d/%s", k.port, k.proto) }

// portRequest is one node port a Service needs: a service port's, or the
// health check's (port 0).
type portRequest struct {
	key   string // in Allocations.NodePorts, or in HealthCheck when health
	svc   string
	field string // where it is written, for messages
	port  int32  // the service port; TCP and UDP on one port share a node port
	proto corev1.Protocol
	given uint16
	// health marks the health check node port, which is TCP (HTTP).
	health bool
}

func allocateNodePorts(prev Allocations, svcs []*corev1.Service) (ports, hc map[string]uint16, errs []error) {
	var reqs []portRequest
	for _, svc := range svcs {
		rs, es := portRequests(svc)
		reqs, errs = append(reqs, rs...), append(errs, es...)
	}
	a := &portAllocator{owner: map[portKey]string{}, ports: map[string]uint16{}, hc: map[string]uint16{}, bySvcPort: map[string][]uint16{}}
	var pending, fresh []portRequest
	for _, q := range reqs {
		p := prev.NodePorts[q.key]
		if q.health {
			p = prev.HealthCheck[q.key]
		}
		if p != 0 && (q.given == 0 || q.given == p) && inRange(p) && a.owner[q.at(p)] == "" {
			a.take(q, p)
		} else {
			pending = append(pending, q)
		}
	}
	for _, q := range pending {
		switch {
		case q.given == 0:
			fresh = append(fresh, q)
		case a.owner[q.at(q.given)] != "":
			errs = append(errs, fmt.Errorf("Service %s: %s %s is already allocated to %s; pick another port or remove %s to get a free one", q.svc, q.field, q.at(q.given), a.owner[q.at(q.given)], q.field))
		default:
			a.take(q, q.given)
		}
	}
	slices.SortStableFunc(fresh, func(x, y portRequest) int { return cmp.Compare(x.svc, y.svc) })
	for _, q := range fresh {
		if p, ok := a.next(q); ok {
			a.take(q, p)
		} else {
			errs = append(errs, fmt.Errorf("Service %s: %s: no node port is free in %d-%d; remove a NodePort Service or use type ClusterIP", q.svc, q.field, NodePortMin, NodePortMax))
		}
	}
	return a.ports, a.hc, errs
}

func (q portRequest) at(p uint16) portKey { return portKey{p, q.proto} }

func inRange(p uint16) bool { return p >= NodePortMin && p <= NodePortMax }

type portAllocator struct {
	owner map[portKey]string
	ports map[string]uint16
	hc    map[string]uint16
	// bySvcPort lists the node ports of a service port number, in the
	// order they were taken, keyed "namespace/name/port".
	bySvcPort map[string][]uint16
}

func (q portRequest) svcPort() string { return fmt.Sprintf("%s/%d", q.svc, q.port) }

func (a *portAllocator) take(q portRequest, p uint16) {
	a.owner[q.at(p)] = "Service " + q.svc
	if q.health {
		a.hc[q.key] = p
		return
	}
	a.ports[q.key] = p
	a.bySvcPort[q.svcPort()] = append(a.bySvcPort[q.svcPort()], p)
}

// next picks a free port for q: the one a sibling port of the same
// Service with the same number already has (TCP and UDP 53 share one, as
// the apiserver does), or the lowest free one of the upper band, then the
// lower band.
func (a *portAllocator) next(q portRequest) (uint16, bool) {
	if !q.health {
		for _, p := range a.bySvcPort[q.svcPort()] {
			if a.owner[q.at(p)] == "" {
				return p, true
			}
		}
	}
	for _, lo := range [][2]uint16{{NodePortMin + nodePortBand, NodePortMax}, {NodePortMin, NodePortMin + nodePortBand - 1}} {
		for p := lo[0]; p <= lo[1]; p++ {
			if a.owner[q.at(p)] == "" {
				return p, true
			}
		}
	}
	return 0, false
}

// portRequests lists the node ports svc needs, and what is wrong with the
// ones it asks for.
func portRequests(svc *corev1.Service) ([]portRequest, []error) {
	var reqs []portRequest
	var errs []error
	spec := svc.Spec
	hasNodePorts := spec.Type == corev1.ServiceTypeNodePort || spec.Type == corev1.ServiceTypeLoadBalancer
	for i, p := range spec.Ports {
		q := portRequest{key: NodePortKey(svc, p), svc: Key(svc), field: fmt.Sprintf("spec.ports[%d].nodePort", i),
			port: p.Port, proto: protocol(p.Protocol), given: uint16(p.NodePort)}
		switch {
		case p.NodePort != 0 && !hasNodePorts:
			errs = append(errs, fmt.Errorf("Service %s: %s is only allowed for type NodePort or LoadBalancer; remove it or change spec.type", q.svc, q.field))
		case p.NodePort != 0 && (p.NodePort < NodePortMin || p.NodePort > NodePortMax):
			errs = append(errs, fmt.Errorf("Service %s: %s %d must be in %d-%d; pick a port in range or remove it to get a free one", q.svc, q.field, p.NodePort, NodePortMin, NodePortMax))
		case p.NodePort != 0 || hasNodePorts && allocatesNodePorts(svc):
			reqs = append(reqs, q)
		}
	}
	q := portRequest{key: Key(svc), svc: Key(svc), field: "spec.healthCheckNodePort", proto: corev1.ProtocolTCP, given: uint16(spec.HealthCheckNodePort), health: true}
	switch {
	case spec.HealthCheckNodePort != 0 && !NeedsHealthCheck(svc):
		errs = append(errs, fmt.Errorf("Service %s: spec.healthCheckNodePort is only allowed for type LoadBalancer with externalTrafficPolicy Local; remove it", q.svc))
	case spec.HealthCheckNodePort != 0 && (spec.HealthCheckNodePort < NodePortMin || spec.HealthCheckNodePort > NodePortMax):
		errs = append(errs, fmt.Errorf("Service %s: spec.healthCheckNodePort %d must be in %d-%d; pick a port in range or remove it to get a free one", q.svc, spec.HealthCheckNodePort, NodePortMin, NodePortMax))
	case NeedsHealthCheck(svc):
		reqs = append(reqs, q)
	}
	return reqs, errs
}

// allocatesNodePorts: a LoadBalancer may opt out of node ports it does not
// ask for.
func allocatesNodePorts(svc *corev1.Service) bool {
	a := svc.Spec.AllocateLoadBalancerNodePorts
	return svc.Spec.Type == corev1.ServiceTypeNodePort || a == nil || *a
}

// NeedsHealthCheck reports whether svc gets a health check node port. As in
// the apiserver only LoadBalancers with externalTrafficPolicy Local do: the
// port is for the cloud load balancer to find the nodes with local
// endpoints, and a NodePort Service has no such balancer.
func NeedsHealthCheck(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeLoadBalancer &&
		svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
}
