package dns

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"

	"kinn.dev/kinn/lab/service"
)

// endpoints are the addresses CoreDNS would see for svc: the EndpointSlice
// controller's endpoints with the Ready condition, since the plugin drops
// the others. That controller publishes the pods the selector picks in the
// Service's namespace that have an address; ready means Ready and not
// terminating, or anything at all with publishNotReadyAddresses. Services
// without a selector take the user's slices (userEndpoints).
func endpoints(svc *corev1.Service, pods podIndex) []endpoint {
	if len(svc.Spec.Selector) == 0 {
		return nil
	}
	sel := labels.SelectorFromSet(svc.Spec.Selector)
	var picked []service.PodState
	for _, p := range pods.candidates(svc) {
		if p.Pod == nil || p.Pod.Namespace != svc.Namespace || !p.IP.IsValid() || !sel.Matches(labels.Set(p.Pod.Labels)) {
			continue
		}
		if svc.Spec.PublishNotReadyAddresses || p.Ready && !p.Terminating {
			picked = append(picked, p)
		}
	}
	slices.SortFunc(picked, func(a, b service.PodState) int { return cmp.Compare(a.Pod.Name, b.Pod.Name) })
	out := make([]endpoint, 0, len(picked))
	for _, p := range picked {
		out = append(out, endpoint{addr: p.IP.Unmap(), hostname: hostname(svc, p), ports: endpointPorts(svc, p.Pod)})
	}
	return out
}

// podIndex holds the pods by namespace and label: a zone is rebuilt on
// every endpoint change, and matching every Service against every pod made
// that quadratic (111 ms for 1,000 Services over 3,000 pods; 8.9 ms with the index).
type podIndex map[string][]service.PodState // "ns/key=value"

func indexPods(pods []service.PodState) podIndex {
	idx := podIndex{}
	for _, p := range pods {
		if p.Pod == nil {
			continue
		}
		for k, v := range p.Pod.Labels {
			key := p.Pod.Namespace + "/" + k + "=" + v
			idx[key] = append(idx[key], p)
		}
	}
	return idx
}

// candidates are the pods carrying the rarest of the selector's labels in
// the Service's namespace: a superset of what the selector picks.
func (idx podIndex) candidates(svc *corev1.Service) []service.PodState {
	var best []service.PodState
	first := true
	for k, v := range svc.Spec.Selector {
		c := idx[svc.Namespace+"/"+k+"="+v]
		if first || len(c) < len(best) {
			best, first = c, false
		}
	}
	return best
}

// endpointPorts are the service ports that resolve on pod, numbered as on
// the pod. The controller leaves out a port whose named targetPort the pod
// lacks; a pod left with none still has an address, like a portless
// Service.
func endpointPorts(svc *corev1.Service, pod *corev1.Pod) []port {
	var out []port
	for _, sp := range svc.Spec.Ports {
		if n := service.FindPort(pod, sp); n != 0 {
			out = append(out, port{sp.Name, protocol(sp.Protocol), int32(n)})
		}
	}
	if len(out) == 0 {
		return noPorts
	}
	return out
}

// hostname is the endpoint's label under the Service: the pod's
// spec.hostname when its spec.subdomain names this Service (the
// controller's rule; the namespace matches already), else the address
// with dashes, as CoreDNS's endpointHostname writes it.
func hostname(svc *corev1.Service, p service.PodState) string {
	if h := p.Pod.Spec.Hostname; h != "" && p.Pod.Spec.Subdomain == svc.Name {
		return h
	}
	return dashed(p.IP.Unmap())
}

func dashed(a netip.Addr) string {
	if a.Is4() {
		return strings.ReplaceAll(a.String(), ".", "-")
	}
	s := strings.ReplaceAll(a.String(), ":", "-")
	if strings.HasSuffix(s, "-") {
		s += "0" // a label may not end with a dash
	}
	return s
}

// userEndpoints are the ready endpoints of the user's slices for a Service
// without a selector, as CoreDNS reads them: an endpoint's first address,
// its hostname or the dashed address, and the slice's ports; a nil ready
// condition counts as ready. FQDN slices give no addresses.
func userEndpoints(svc *corev1.Service, user []*discoveryv1.EndpointSlice) []endpoint {
	var out []endpoint
	for _, s := range service.SlicesOf(svc, user) {
		if s.AddressType != discoveryv1.AddressTypeIPv4 && s.AddressType != discoveryv1.AddressTypeIPv6 {
			continue
		}
		ports := slicePorts(s)
		for _, ep := range s.Endpoints {
			ready := ep.Conditions.Ready == nil || *ep.Conditions.Ready
			if !ready && !svc.Spec.PublishNotReadyAddresses || len(ep.Addresses) == 0 {
				continue
			}
			a, err := netip.ParseAddr(ep.Addresses[0])
			if err != nil {
				continue
			}
			e := endpoint{addr: a.Unmap(), hostname: dashed(a.Unmap()), ports: ports}
			if ep.Hostname != nil && *ep.Hostname != "" {
				e.hostname = *ep.Hostname
			}
			out = append(out, e)
		}
	}
	return out
}

func slicePorts(s *discoveryv1.EndpointSlice) []port {
	var out []port
	for _, p := range s.Ports {
		if p.Port == nil {
			continue
		}
		var name string
		if p.Name != nil {
			name = *p.Name
		}
		var proto corev1.Protocol
		if p.Protocol != nil {
			proto = *p.Protocol
		}
		out = append(out, port{name, protocol(proto), *p.Port})
	}
	if len(out) == 0 {
		return noPorts
	}
	return out
}
