package topology

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// A user's EndpointSlice is checked as the API server checks one
// (pkg/apis/discovery/validation). It is attached to the Service its
// kubernetes.io/service-name label names, and only a Service without a
// selector takes endpoints from it: the controller owns the others'.

var addressTypes = []discoveryv1.AddressType{discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6, discoveryv1.AddressTypeFQDN}

// The API server's limits on a slice.
const (
	maxSliceEndpoints = 1000
	maxSliceAddresses = 100
	maxSlicePorts     = 100
)

// checkEndpointSlice checks s and defaults its ports' protocols to TCP, as
// the API server does.
func checkEndpointSlice(d *doc, r *report, s *discoveryv1.EndpointSlice) {
	switch {
	case s.AddressType == "":
		r.errorf(d.at("addressType"), "addressType is required: IPv4, IPv6 or FQDN")
	case !slices.Contains(addressTypes, s.AddressType):
		r.errorf(d.at("addressType"), "addressType %q must be IPv4, IPv6 or FQDN", s.AddressType)
	}
	if len(s.Endpoints) > maxSliceEndpoints {
		r.errorf(d.at("endpoints"), "endpoints: at most %d endpoints, not %d", maxSliceEndpoints, len(s.Endpoints))
	}
	for i := range s.Endpoints {
		checkSliceEndpoint(d, r, path{"endpoints", i}, s.AddressType, &s.Endpoints[i])
	}
	if len(s.Ports) > maxSlicePorts {
		r.errorf(d.at("ports"), "ports: at most %d ports, not %d", maxSlicePorts, len(s.Ports))
	}
	names := make(map[string]bool)
	for i := range s.Ports {
		checkSlicePort(d, r, path{"ports", i}, &s.Ports[i], names)
	}
}

func checkSliceEndpoint(d *doc, r *report, p path, t discoveryv1.AddressType, ep *discoveryv1.Endpoint) {
	if n := len(ep.Addresses); n == 0 || n > maxSliceAddresses {
		r.errorf(d.at(p.with("addresses")...), "%s.addresses must hold 1..%d addresses, not %d", p, maxSliceAddresses, n)
	}
	for j, a := range ep.Addresses {
		if msg := badAddress(t, a); msg != "" {
			ap := p.with("addresses", j)
			r.errorf(d.at(ap...), "%s %q %s", ap, a, msg)
		}
	}
	if ep.Hostname != nil {
		if errs := validation.IsDNS1123Label(*ep.Hostname); len(errs) > 0 {
			r.errorf(d.at(p.with("hostname")...), "%s.hostname %q is invalid: %s", p, *ep.Hostname, strings.Join(errs, "; "))
		}
	}
	if ep.NodeName != nil {
		if errs := validation.IsDNS1123Subdomain(*ep.NodeName); len(errs) > 0 {
			r.errorf(d.at(p.with("nodeName")...), "%s.nodeName %q is invalid: %s", p, *ep.NodeName, strings.Join(errs, "; "))
		}
	}
}

// badAddress says what is wrong with address a of type t, or "".
func badAddress(t discoveryv1.AddressType, a string) string {
	switch t {
	case discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6:
		ip, err := netip.ParseAddr(a)
		switch {
		case err != nil || ip.Zone() != "":
			return fmt.Sprintf("must be an %s address", t)
		case t == discoveryv1.AddressTypeIPv4 && !ip.Is4():
			return "must be an IPv4 address (addressType is IPv4)"
		case t == discoveryv1.AddressTypeIPv6 && (!ip.Is6() || ip.Is4In6()):
			return "must be an IPv6 address (addressType is IPv6)"
		case ip.IsUnspecified() || ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsMulticast():
			return "may not be unspecified, loopback, link-local or multicast"
		}
	case discoveryv1.AddressTypeFQDN:
		if errs := validation.IsFullyQualifiedDomainName(nil, a); len(errs) > 0 {
			return "must be a fully qualified domain name: " + errs[0].Detail
		}
	}
	return ""
}

func checkSlicePort(d *doc, r *report, p path, port *discoveryv1.EndpointPort, names map[string]bool) {
	name := ""
	if port.Name != nil {
		name = *port.Name
	}
	if name != "" {
		if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
			r.errorf(d.at(p.with("name")...), "%s.name %q is invalid: %s", p, name, strings.Join(errs, "; "))
		}
	}
	if names[name] {
		r.errorf(d.at(p...), "%s.name %q is used by another port", p, name)
	}
	names[name] = true
	if port.Port == nil {
		r.warnf(d.at(p...), "%s has no port number: kube-proxy ignores such a port", p)
	} else if n := *port.Port; n < 1 || n > 65535 {
		r.errorf(d.at(p.with("port")...), "%s.port %d must be in 1..65535", p, n)
	}
	if port.Protocol == nil {
		tcp := protocols[0]
		port.Protocol = &tcp
	}
	checkProtocol(d, r, p, port.Protocol)
}

// checkSliceServices warns about slices that give no Service endpoints:
// unlabelled ones, and those of a Service with a selector, whose slices
// the EndpointSlice controller owns.
func checkSliceServices(svcs []*corev1.Service, objs []object, r *report) {
	byKey := make(map[string]*corev1.Service)
	for _, svc := range svcs {
		byKey[svc.Namespace+"/"+svc.Name] = svc
	}
	for _, o := range objs {
		s := o.obj.(*discoveryv1.EndpointSlice)
		name, ok := s.Labels[discoveryv1.LabelServiceName]
		if !ok {
			r.warnf(o.d.at("metadata"), "EndpointSlice %s has no %s label: it gives no Service endpoints", qualified(&s.ObjectMeta), discoveryv1.LabelServiceName)
			continue
		}
		svc := byKey[s.Namespace+"/"+name]
		if svc != nil && len(svc.Spec.Selector) > 0 {
			r.warnf(o.d.at("metadata", "labels", discoveryv1.LabelServiceName), "EndpointSlice %s is ignored: Service %s has a selector, so the EndpointSlice controller owns its endpoints", qualified(&s.ObjectMeta), qualified(&svc.ObjectMeta))
		}
	}
}
