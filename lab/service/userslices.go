package service

// A Service without a selector gets its endpoints from EndpointSlices its
// user writes, labelled kubernetes.io/service-name with its name in its
// namespace, as kube-proxy reads them (pkg/proxy/endpointslicecache.go):
// a service port takes the slice ports of its name and protocol, an
// endpoint address may be anything (a pod's, a node's), a nil ready
// condition means ready and a nil serving one means the same as ready.

import (
	"cmp"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// UserManaged reports whether svc's endpoints are the user's slices: it
// has no selector, and is not the API server's default/kubernetes.
func UserManaged(svc *corev1.Service) bool {
	return len(svc.Spec.Selector) == 0 && svc.Spec.Type != corev1.ServiceTypeExternalName &&
		(svc.Namespace != "default" || svc.Name != "kubernetes")
}

// SlicesOf lists the user's slices that give svc endpoints, in name order:
// none for a Service with a selector, whose slices the controller owns.
func SlicesOf(svc *corev1.Service, user []*discoveryv1.EndpointSlice) []*discoveryv1.EndpointSlice {
	if !UserManaged(svc) {
		return nil
	}
	var out []*discoveryv1.EndpointSlice
	for _, s := range user {
		if s.Namespace == svc.Namespace && s.Labels[discoveryv1.LabelServiceName] == svc.Name {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b *discoveryv1.EndpointSlice) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// sliceConditions reads an endpoint's conditions as kube-proxy does.
func sliceConditions(c discoveryv1.EndpointConditions) (ready, serving, terminating bool) {
	ready = c.Ready == nil || *c.Ready
	serving = ready
	if c.Serving != nil {
		serving = *c.Serving
	}
	return ready, serving, c.Terminating != nil && *c.Terminating
}

// sliceAddrs is the endpoint's address, if the slice's address type is
// one kinn proxies: kube-proxy uses only an endpoint's first address, and
// skips FQDN slices.
func sliceAddrs(s *discoveryv1.EndpointSlice, ep discoveryv1.Endpoint) []netip.Addr {
	if s.AddressType != discoveryv1.AddressTypeIPv4 && s.AddressType != discoveryv1.AddressTypeIPv6 || len(ep.Addresses) == 0 {
		return nil
	}
	a, err := netip.ParseAddr(ep.Addresses[0])
	if err != nil {
		return nil
	}
	return []netip.Addr{a.Unmap()}
}

// userEndpoints are service port sp's endpoints from svc's slices: those
// of slices of the ClusterIP's family with a port of sp's name and
// protocol, each address and port once (the first slice by name wins).
func userEndpoints(svc *corev1.Service, sp corev1.ServicePort, user []*discoveryv1.EndpointSlice) []Endpoint {
	cip, err := netip.ParseAddr(svc.Spec.ClusterIP)
	if err != nil {
		return nil
	}
	var out []Endpoint
	seen := make(map[netip.AddrPort]bool)
	for _, s := range SlicesOf(svc, user) {
		num, ok := slicePort(s, sp)
		if !ok {
			continue
		}
		for _, ep := range s.Endpoints {
			for _, a := range sliceAddrs(s, ep) {
				ap := netip.AddrPortFrom(a, num)
				if a.Is4() != cip.Is4() || seen[ap] {
					continue
				}
				seen[ap] = true
				out = append(out, userEndpoint(ep, ap))
			}
		}
	}
	return out
}

func userEndpoint(ep discoveryv1.Endpoint, ap netip.AddrPort) Endpoint {
	ready, serving, terminating := sliceConditions(ep.Conditions)
	e := Endpoint{IP: ap.Addr(), Port: ap.Port(), Ready: ready, Serving: serving, Terminating: terminating}
	if ep.NodeName != nil {
		e.Node = *ep.NodeName
	}
	if r := ep.TargetRef; r != nil && r.Kind == "Pod" {
		e.Namespace, e.Pod = r.Namespace, r.Name
	}
	return e
}

// slicePort is the number s gives service port sp: the slice port of the
// same name and protocol.
func slicePort(s *discoveryv1.EndpointSlice, sp corev1.ServicePort) (uint16, bool) {
	for _, p := range s.Ports {
		name := ""
		if p.Name != nil {
			name = *p.Name
		}
		proto := corev1.ProtocolTCP
		if p.Protocol != nil {
			proto = *p.Protocol
		}
		if name == sp.Name && proto == protocol(sp.Protocol) && p.Port != nil && *p.Port > 0 && *p.Port <= 65535 {
			return uint16(*p.Port), true
		}
	}
	return 0, false
}

// WithUserSlices adds the user's slices to the controller's, as `kubectl
// get endpointslices` lists both, ordered by namespace and name.
func WithUserSlices(controller []discoveryv1.EndpointSlice, user []*discoveryv1.EndpointSlice) []discoveryv1.EndpointSlice {
	out := slices.Clone(controller)
	for _, s := range user {
		c := *s.DeepCopy()
		c.APIVersion, c.Kind = "discovery.k8s.io/v1", "EndpointSlice"
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b discoveryv1.EndpointSlice) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	return out
}
