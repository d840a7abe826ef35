package service

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Table is what kubectl prints for a list: a header and rows of cells. The
// CLI only aligns them; the cells are built here as kubectl's printers
// (pkg/printers/internalversion) build them.
type Table struct {
	Header []string
	Rows   [][]string
}

// ServiceTable lists Services (as Apply returns them) as `kubectl get svc`
// does, without AGE (kinn keeps no clock). allNamespaces adds the NAMESPACE
// column first, wide adds SELECTOR.
func ServiceTable(svcs []*corev1.Service, allNamespaces, wide bool) Table {
	t := Table{Header: []string{"NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)"}}
	if wide {
		t.Header = append(t.Header, "SELECTOR")
	}
	for _, svc := range svcs {
		row := []string{svc.Name, string(svc.Spec.Type), orNone(svc.Spec.ClusterIP), externalIP(svc), PortsString(svc.Spec.Ports)}
		if wide {
			row = append(row, orNone(labels.FormatLabels(svc.Spec.Selector)))
		}
		t.Rows = append(t.Rows, row)
	}
	return WithNamespace(t, allNamespaces, func(i int) string { return svcs[i].Namespace })
}

// EndpointSliceTable lists slices as `kubectl get endpointslices` does,
// without AGE. wide adds what kubectl shows only in -o yaml, each
// endpoint's conditions counted: READY and SERVING as true/all, and
// TERMINATING as the count of those true. known false (the lab process did
// not answer) shows the counts as "?": they would say no endpoint is ready.
func EndpointSliceTable(items []discoveryv1.EndpointSlice, allNamespaces, wide, known bool) Table {
	t := Table{Header: []string{"NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS"}}
	if wide {
		t.Header = append(t.Header, "READY", "SERVING", "TERMINATING")
	}
	for _, s := range items {
		row := []string{s.Name, string(s.AddressType), slicePorts(s.Ports), sliceEndpoints(s.Endpoints)}
		if wide {
			row = append(row, conditionCells(s.Endpoints, known)...)
		}
		t.Rows = append(t.Rows, row)
	}
	return WithNamespace(t, allNamespaces, func(i int) string { return items[i].Namespace })
}

// conditionCells are the READY, SERVING and TERMINATING cells. Unset
// conditions count as the API tells consumers to read them: ready and
// serving (a user's slice may not say), not terminating.
func conditionCells(eps []discoveryv1.Endpoint, known bool) []string {
	if !known {
		return []string{"?", "?", "?"}
	}
	ready, serving, terminating := 0, 0, 0
	for _, ep := range eps {
		c := ep.Conditions
		if c.Ready == nil || *c.Ready {
			ready++
		}
		if c.Serving == nil || *c.Serving {
			serving++
		}
		if c.Terminating != nil && *c.Terminating {
			terminating++
		}
	}
	n := len(eps)
	return []string{fmt.Sprintf("%d/%d", ready, n), fmt.Sprintf("%d/%d", serving, n), strconv.Itoa(terminating)}
}

// WithNamespace adds -A's NAMESPACE column first when on; ns is row i's.
func WithNamespace(t Table, on bool, ns func(int) string) Table {
	if !on {
		return t
	}
	t.Header = append([]string{"NAMESPACE"}, t.Header...)
	for i, row := range t.Rows {
		t.Rows[i] = append([]string{ns(i)}, row...)
	}
	return t
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

// PortsString is kubectl's PORT(S) cell: 80/TCP, or 80:30080/TCP with a
// node port, comma-separated.
func PortsString(ports []corev1.ServicePort) string {
	parts := make([]string, len(ports))
	for i, p := range ports {
		parts[i] = fmt.Sprintf("%d/%s", p.Port, protocol(p.Protocol))
		if p.NodePort > 0 {
			parts[i] = fmt.Sprintf("%d:%d/%s", p.Port, p.NodePort, protocol(p.Protocol))
		}
	}
	return orNone(strings.Join(parts, ","))
}

// externalIP is kubectl's EXTERNAL-IP cell: a LoadBalancer shows the
// addresses of its status (kinn's controller's) and its external IPs, or
// <pending> while it has none.
func externalIP(svc *corev1.Service) string {
	ext := svc.Spec.ExternalIPs
	switch svc.Spec.Type {
	case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort:
		return orNone(strings.Join(ext, ","))
	case corev1.ServiceTypeLoadBalancer:
		var ips []string
		for _, in := range svc.Status.LoadBalancer.Ingress {
			ips = append(ips, cmp.Or(in.IP, in.Hostname))
		}
		if all := append(ips, ext...); len(all) > 0 {
			return strings.Join(all, ",")
		}
		return "<pending>"
	case corev1.ServiceTypeExternalName:
		return svc.Spec.ExternalName
	}
	return "<unknown>"
}

// kubectl shows three items of a list and counts the rest.
const listMax = 3

func slicePorts(ports []discoveryv1.EndpointPort) string {
	var list []string
	for _, p := range ports {
		switch {
		case p.Port != nil:
			list = append(list, strconv.Itoa(int(*p.Port)))
		case p.Name != nil:
			list = append(list, *p.Name)
		default:
			list = append(list, "*")
		}
	}
	return listWithMore(list)
}

func sliceEndpoints(eps []discoveryv1.Endpoint) string {
	var list []string
	for _, ep := range eps {
		list = append(list, ep.Addresses...)
	}
	return listWithMore(list)
}

func listWithMore(list []string) string {
	switch {
	case len(list) == 0:
		return "<unset>"
	case len(list) > listMax:
		return fmt.Sprintf("%s + %d more...", strings.Join(list[:listMax], ","), len(list)-listMax)
	}
	return strings.Join(list, ",")
}
