package service

import (
	"cmp"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The EndpointSlice controller's constants.
const (
	ManagedBy            = "endpointslice-controller.k8s.io"
	MaxEndpointsPerSlice = 100 // kube-controller-manager's --max-endpoints-per-slice default
)

// EndpointSlices returns the slices the EndpointSlice controller would keep
// for Services (as Apply returns them) and pods, ordered by namespace and
// name. Endpoints are grouped by the ports they resolve, so pods that map a
// named port differently land in different slices, at most
// MaxEndpointsPerSlice to a slice. A Service whose selector matches nothing
// gets one empty slice, as the controller keeps a placeholder.
func EndpointSlices(svcs []*corev1.Service, pods []PodState) []discoveryv1.EndpointSlice {
	var out []discoveryv1.EndpointSlice
	for _, svc := range svcs {
		if len(svc.Spec.Selector) == 0 || svc.Spec.Type == corev1.ServiceTypeExternalName {
			continue
		}
		out = append(out, serviceSlices(svc, backends(svc, pods))...)
	}
	slices.SortFunc(out, func(a, b discoveryv1.EndpointSlice) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	return out
}

// sliceGroup is the endpoints that share one list of resolved ports.
type sliceGroup struct {
	key       string
	ports     []discoveryv1.EndpointPort
	endpoints []discoveryv1.Endpoint
}

func serviceSlices(svc *corev1.Service, bs []backend) []discoveryv1.EndpointSlice {
	var groups []*sliceGroup
	byKey := map[string]*sliceGroup{}
	for _, b := range bs {
		ports, key := endpointPorts(svc, b)
		g := byKey[key]
		if g == nil {
			g = &sliceGroup{key: key, ports: ports}
			byKey[key] = g
			groups = append(groups, g)
		}
		g.endpoints = append(g.endpoints, endpoint(svc, b.pod))
	}
	if len(groups) == 0 {
		return []discoveryv1.EndpointSlice{newSlice(svc, "placeholder", nil, nil)}
	}
	var out []discoveryv1.EndpointSlice
	for _, g := range groups {
		for i, chunk := range chunks(g.endpoints, MaxEndpointsPerSlice) {
			out = append(out, newSlice(svc, fmt.Sprintf("%s#%d", g.key, i), g.ports, chunk))
		}
	}
	return out
}

func chunks[T any](s []T, n int) [][]T {
	var out [][]T
	for len(s) > n {
		out, s = append(out, s[:n]), s[n:]
	}
	return append(out, s)
}

// endpointPorts lists the ports b resolves, in the Service's order; the
// key tells port lists apart.
func endpointPorts(svc *corev1.Service, b backend) ([]discoveryv1.EndpointPort, string) {
	ports := []discoveryv1.EndpointPort{}
	var key strings.Builder
	for i, sp := range svc.Spec.Ports {
		if b.ports[i] == 0 {
			continue
		}
		ports = append(ports, discoveryv1.EndpointPort{
			Name:        ref(sp.Name),
			Protocol:    ref(protocol(sp.Protocol)),
			Port:        ref(int32(b.ports[i])),
			AppProtocol: sp.AppProtocol,
		})
		fmt.Fprintf(&key, "%s=%d/%s,", sp.Name, b.ports[i], protocol(sp.Protocol))
	}
	return ports, key.String()
}

func endpoint(svc *corev1.Service, p PodState) discoveryv1.Endpoint {
	ready, serving, terminating := conditions(svc, p)
	ep := discoveryv1.Endpoint{
		Addresses:  []string{p.IP.String()},
		Conditions: discoveryv1.EndpointConditions{Ready: &ready, Serving: &serving, Terminating: &terminating},
		TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: p.Pod.Namespace, Name: p.Pod.Name, UID: p.Pod.UID},
	}
	if p.Node != "" {
		ep.NodeName = ref(p.Node)
	}
	// A pod names itself in its Service's DNS when its subdomain is the
	// Service (hostname.subdomain.namespace.svc).
	if p.Pod.Spec.Hostname != "" && p.Pod.Spec.Subdomain == svc.Name {
		ep.Hostname = ref(p.Pod.Spec.Hostname)
	}
	return ep
}

func newSlice(svc *corev1.Service, group string, ports []discoveryv1.EndpointPort, eps []discoveryv1.Endpoint) discoveryv1.EndpointSlice {
	prefix := svc.Name + "-"
	if len(prefix) > maxGeneratedPrefix {
		prefix = prefix[:maxGeneratedPrefix]
	}
	s := discoveryv1.EndpointSlice{
		TypeMeta: metav1.TypeMeta{APIVersion: "discovery.k8s.io/v1", Kind: "EndpointSlice"},
		ObjectMeta: metav1.ObjectMeta{
			Name:         prefix + suffix(Key(svc)+"\x00"+group),
			GenerateName: prefix,
			Namespace:    svc.Namespace,
			Labels:       sliceLabels(svc),
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   eps,
		Ports:       ports,
	}
	if svc.UID != "" {
		s.OwnerReferences = []metav1.OwnerReference{{
			APIVersion: "v1", Kind: "Service", Name: svc.Name, UID: svc.UID,
			Controller: ref(true), BlockOwnerDeletion: ref(true),
		}}
	}
	return s
}

// sliceLabels are the Service's own labels plus the controller's, as the
// controller sets them.
func sliceLabels(svc *corev1.Service) map[string]string {
	l := map[string]string{}
	for k, v := range svc.Labels {
		if k != discoveryv1.LabelServiceName && k != discoveryv1.LabelManagedBy && k != LabelHeadless {
			l[k] = v
		}
	}
	l[discoveryv1.LabelServiceName] = svc.Name
	l[discoveryv1.LabelManagedBy] = ManagedBy
	if svc.Spec.ClusterIP == corev1.ClusterIPNone {
		l[LabelHeadless] = ""
	}
	return l
}

// The apiserver's generateName: the prefix is cut to leave room for five
// characters of an alphabet without vowels (no words) or look-alikes.
const (
	maxGeneratedPrefix = 63 - 5
	suffixAlphabet     = "bcdfghjklmnpqrstvwxz2456789"
)

// suffix is five alphabet characters derived from s: the controller picks
// them at random, kinn from the slice's identity so that names are stable.
func suffix(s string) string {
	h := sha256.Sum256([]byte(s))
	b := make([]byte, 5)
	for i := range b {
		b[i] = suffixAlphabet[int(h[i])%len(suffixAlphabet)]
	}
	return string(b)
}

// EndpointSliceList wraps slices for -o json|yaml.
func EndpointSliceList(items []discoveryv1.EndpointSlice) discoveryv1.EndpointSliceList {
	return discoveryv1.EndpointSliceList{
		TypeMeta: metav1.TypeMeta{APIVersion: "discovery.k8s.io/v1", Kind: "EndpointSliceList"},
		Items:    append([]discoveryv1.EndpointSlice{}, items...),
	}
}

func ref[T any](v T) *T { return &v }
