package service

// Endpoints are computed as the EndpointSlice controller computes them
// (kubernetes pkg/controller/endpointslice): the pods a Service's selector
// picks in its namespace, each with the target ports it resolves — a named
// targetPort is looked up per pod, so two pods may give one name different
// numbers and a pod without the name backs the Service's other ports only —
// and with the controller's conditions.

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// PodState is one pod of the lab as the endpoints need it.
type PodState struct {
	Pod         *corev1.Pod // namespace, name, labels and containers' ports
	IP          netip.Addr  // invalid while the pod has no address: it is no endpoint then
	Node        string
	Ready       bool // the pod's Ready condition
	Terminating bool // the pod is being deleted
}

// APIServerLabels are the API server's static pods' labels (kubeadm's).
var APIServerLabels = map[string]string{"component": "kube-apiserver", "tier": "control-plane"}

// The labels that make kube-proxy ignore a Service: it belongs to another
// proxy, or its owner wants no virtual IP for it.
const (
	LabelServiceProxyName = "service.kubernetes.io/service-proxy-name"
	LabelHeadless         = "service.kubernetes.io/headless"
)

// Proxied reports whether kube-proxy programs svc.
func Proxied(svc *corev1.Service) bool {
	if svc.Spec.Type == corev1.ServiceTypeExternalName || !validClusterIP(svc) {
		return false
	}
	_, other := svc.Labels[LabelServiceProxyName]
	_, headless := svc.Labels[LabelHeadless]
	return !other && !headless
}

func validClusterIP(svc *corev1.Service) bool {
	a, err := netip.ParseAddr(svc.Spec.ClusterIP)
	return err == nil && a.Is4()
}

// backend is one selected pod with the target port each service port
// resolves to on it (0: the pod lacks that named port).
type backend struct {
	pod   PodState
	ports []uint16 // parallel to the Service's spec.ports
}

// backends lists the pods svc selects, in namespace/name order. Services
// without a selector are left to whoever manages their endpoints: the API
// server manages default/kubernetes's (its own instances, the pods labelled
// component=kube-apiserver in kube-system); the others have none.
func backends(svc *corev1.Service, pods []PodState) []backend {
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	sel, ns := labels.SelectorFromSet(svc.Spec.Selector), svc.Namespace
	if len(svc.Spec.Selector) == 0 {
		if svc.Namespace != "default" || svc.Name != "kubernetes" {
			return nil
		}
		sel, ns = labels.SelectorFromSet(APIServerLabels), "kube-system"
	}
	var out []backend
	for _, p := range pods {
		if p.Pod == nil || p.Pod.Namespace != ns || !p.IP.Is4() || !sel.Matches(labels.Set(p.Pod.Labels)) {
			continue
		}
		b := backend{pod: p, ports: make([]uint16, len(svc.Spec.Ports))}
		for i, sp := range svc.Spec.Ports {
			b.ports[i] = FindPort(p.Pod, sp)
		}
		out = append(out, b)
	}
	slices.SortFunc(out, func(a, b backend) int {
		return cmp.Or(cmp.Compare(a.pod.Pod.Namespace, b.pod.Pod.Namespace), cmp.Compare(a.pod.Pod.Name, b.pod.Pod.Name))
	})
	return out
}

// FindPort resolves a service port's targetPort on pod, as the apiserver's
// podutil.FindPort does: a number is taken as is, a name is looked up in
// the pod's containers' ports with the same protocol. 0 means the pod has
// no such port.
func FindPort(pod *corev1.Pod, sp corev1.ServicePort) uint16 {
	tp := sp.TargetPort
	if tp.Type == intstr.Int {
		if tp.IntVal == 0 {
			return uint16(sp.Port) // not defaulted yet: targetPort defaults to port
		}
		return uint16(tp.IntVal)
	}
	for _, c := range pod.Spec.Containers {
		for _, cp := range c.Ports {
			if cp.Name == tp.StrVal && protocol(cp.Protocol) == protocol(sp.Protocol) {
				return uint16(cp.ContainerPort)
			}
		}
	}
	return 0
}

// conditions are the EndpointSlice controller's (podToEndpoint): serving
// is the pod's readiness, whatever the Service says; ready is serving and
// not terminating, or true for every endpoint under
// publishNotReadyAddresses, which only publishes the address and never
// makes an unready pod serve.
func conditions(svc *corev1.Service, p PodState) (ready, serving, terminating bool) {
	serving = p.Ready
	return svc.Spec.PublishNotReadyAddresses || serving && !p.Terminating, serving, p.Terminating
}

// Ports turns Services (allocated, as Apply returns them), the user's
// EndpointSlices and the lab's pods into what the proxy programs: one Port
// per port of every proxied Service, ordered by Key. A Service without a
// selector takes its endpoints from the user's slices (see userEndpoints).
func Ports(svcs []*corev1.Service, user []*discoveryv1.EndpointSlice, pods []PodState) []Port {
	var out []Port
	for _, svc := range svcs {
		if !Proxied(svc) {
			continue
		}
		bs := backends(svc, pods)
		for i, sp := range svc.Spec.Ports {
			p := port(svc, i, sp, bs)
			if UserManaged(svc) {
				p.Endpoints = userEndpoints(svc, sp, user)
			}
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b Port) int { return cmp.Compare(a.Key(), b.Key()) })
	return out
}

func port(svc *corev1.Service, i int, sp corev1.ServicePort, bs []backend) Port {
	spec := svc.Spec
	p := Port{
		Namespace: svc.Namespace, Service: svc.Name, Name: sp.Name,
		Protocol:               Protocol(protocol(sp.Protocol)),
		ClusterIP:              netip.MustParseAddr(spec.ClusterIP),
		Port:                   uint16(sp.Port),
		NodePort:               uint16(sp.NodePort),
		ExternalIPs:            externalIPs(svc),
		LoadBalancerIPs:        loadBalancerIPs(svc, corev1.LoadBalancerIPModeVIP),
		ProxiedLoadBalancerIPs: loadBalancerIPs(svc, corev1.LoadBalancerIPModeProxy),
		SourceRanges:           sourceRanges(svc),
		Affinity:               affinity(svc),
		InternalLocal:          spec.InternalTrafficPolicy != nil && *spec.InternalTrafficPolicy == corev1.ServiceInternalTrafficPolicyLocal,
		HealthCheckNodePort:    uint16(spec.HealthCheckNodePort),
	}
	// externalTrafficPolicy only concerns traffic from outside the cluster,
	// which only reaches node ports, external IPs and load-balancer IPs.
	external := spec.Type == corev1.ServiceTypeNodePort || spec.Type == corev1.ServiceTypeLoadBalancer || len(p.ExternalIPs) > 0
	p.ExternalLocal = external && spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
	for _, b := range bs {
		if b.ports[i] == 0 {
			continue
		}
		ready, serving, terminating := conditions(svc, b.pod)
		p.Endpoints = append(p.Endpoints, Endpoint{
			Namespace: b.pod.Pod.Namespace, Pod: b.pod.Pod.Name, Node: b.pod.Node,
			IP: b.pod.IP, Port: b.ports[i],
			Ready: ready, Serving: serving, Terminating: terminating,
		})
	}
	return p
}

func externalIPs(svc *corev1.Service) []netip.Addr {
	var out []netip.Addr
	for _, s := range svc.Spec.ExternalIPs {
		if a, err := netip.ParseAddr(s); err == nil && a.Is4() {
			out = append(out, a)
		}
	}
	return out
}

// loadBalancerIPs are the IPv4 ingress addresses of one ipMode (none
// given is VIP, as kube-proxy reads it).
func loadBalancerIPs(svc *corev1.Service, mode corev1.LoadBalancerIPMode) []netip.Addr {
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		return nil
	}
	var out []netip.Addr
	for _, in := range svc.Status.LoadBalancer.Ingress {
		got := corev1.LoadBalancerIPModeVIP
		if in.IPMode != nil {
			got = *in.IPMode
		}
		if got != mode {
			continue
		}
		if a, err := netip.ParseAddr(in.IP); err == nil && a.Is4() {
			out = append(out, a)
		}
	}
	return out
}

// sourceRanges are spec.loadBalancerSourceRanges, IPv4, masked; kube-proxy
// tolerates spaces around them.
func sourceRanges(svc *corev1.Service) []netip.Prefix {
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		return nil
	}
	var out []netip.Prefix
	for _, s := range svc.Spec.LoadBalancerSourceRanges {
		if p, err := netip.ParsePrefix(strings.TrimSpace(s)); err == nil && p.Addr().Is4() {
			out = append(out, p.Masked())
		}
	}
	return out
}

func affinity(svc *corev1.Service) time.Duration {
	if svc.Spec.SessionAffinity != corev1.ServiceAffinityClientIP {
		return 0
	}
	t := DefaultAffinityTimeout
	if c := svc.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil {
		t = *c.ClientIP.TimeoutSeconds
	}
	return time.Duration(t) * time.Second
}

// HeadlessAddresses are the addresses DNS answers for a headless Service:
// its ready endpoints' (every one with publishNotReadyAddresses), sorted;
// for a Service without a selector, its slices' ready addresses.
// Non-headless Services have none: DNS answers their ClusterIP.
func HeadlessAddresses(svc *corev1.Service, user []*discoveryv1.EndpointSlice, pods []PodState) []netip.Addr {
	if svc.Spec.ClusterIP != corev1.ClusterIPNone {
		return nil
	}
	var out []netip.Addr
	if UserManaged(svc) {
		for _, s := range SlicesOf(svc, user) {
			for _, ep := range s.Endpoints {
				if ready, _, _ := sliceConditions(ep.Conditions); ready || svc.Spec.PublishNotReadyAddresses {
					out = append(out, sliceAddrs(s, ep)...)
				}
			}
		}
	}
	for _, b := range backends(svc, pods) {
		if ready, _, _ := conditions(svc, b.pod); ready {
			out = append(out, b.pod.IP)
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}
