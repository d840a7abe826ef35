package dns

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"io"
	"net/netip"
	"slices"
	"strings"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"kinn.dev/kinn/lab/service"
)

// DefaultDomain is kubeadm's cluster domain.
const DefaultDomain = "cluster.local"

// ttl is every record's, and the SOA's minimum: kubeadm's Corefile says
// "ttl 30".
const ttl = 30

// kubeDNS is the Service NS answers name: in a kubeadm cluster it fronts
// CoreDNS, and the plugin finds it as the Service whose endpoints are
// CoreDNS's own addresses.
const kubeDNS = "kube-dns.kube-system"

// The namespaces every kubeadm cluster has, Services or not.
var builtinNamespaces = []string{"default", "kube-system", "kube-public", "kube-node-lease"}

// Zone is the DNS view of one state of the lab. It is never modified after
// NewZone, so any number of goroutines may answer from it.
type Zone struct {
	domain     string // lower case, fully qualified
	zones      []string
	namespaces map[string]bool
	services   map[string]*svcEntry    // by "name.namespace", as CoreDNS indexes them
	clusterIPs map[netip.Addr]string   // reverse: the Service name, without the domain
	endpoints  map[netip.Addr][]string // reverse: endpoint names, used when no ClusterIP matches
	serial     uint32
}

// kind is how a Service is answered.
type kind int

const (
	clusterIP kind = iota // its ClusterIPs
	headless              // its endpoints' addresses
	external              // a CNAME to spec.externalName
)

// svcEntry is one Service as DNS needs it.
type svcEntry struct {
	name, namespace string
	kind            kind
	externalName    string
	clusterIPs      []netip.Addr
	ports           []port
	endpoints       []endpoint
}

// port is a service port, or an endpoint's resolved one. number -1 stands
// for "no ports at all", as CoreDNS's sentinel does: such a Service still
// has addresses but no SRV records.
type port struct {
	name, protocol string
	number         int32
}

var noPorts = []port{{number: -1}}

type endpoint struct {
	addr     netip.Addr
	hostname string
	ports    []port
}

// NewZone builds the zone for domain ("" means cluster.local) from the
// lab's Services, as allocated, and its pods.
func NewZone(domain string, svcs []*corev1.Service, pods []service.PodState, user []*discoveryv1.EndpointSlice) *Zone {
	domain = strings.ToLower(dns.Fqdn(cmp.Or(domain, DefaultDomain)))
	z := &Zone{
		domain:     domain,
		zones:      []string{domain, "in-addr.arpa.", "ip6.arpa."},
		namespaces: map[string]bool{},
		services:   map[string]*svcEntry{},
		clusterIPs: map[netip.Addr]string{},
		endpoints:  map[netip.Addr][]string{},
	}
	for _, ns := range builtinNamespaces {
		z.namespaces[ns] = true
	}
	for _, p := range pods {
		if p.Pod != nil {
			z.namespaces[p.Pod.Namespace] = true
		}
	}
	sorted := slices.Clone(svcs)
	slices.SortFunc(sorted, func(a, b *corev1.Service) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	h := fnv.New32a()
	idx := indexPods(pods)
	for _, svc := range sorted {
		e := newEntry(svc, idx, user)
		z.add(e)
		e.hash(h)
	}
	z.serial = h.Sum32()
	return z
}

// add indexes e. Services come in namespace/name order, so when two claim
// one ClusterIP the reverse answer is stable (CoreDNS picks either).
func (z *Zone) add(e *svcEntry) {
	z.namespaces[e.namespace] = true
	z.services[e.name+"."+e.namespace] = e
	for _, a := range e.clusterIPs {
		if _, taken := z.clusterIPs[a]; !taken {
			z.clusterIPs[a] = e.name + "." + e.namespace + ".svc"
		}
	}
	for _, ep := range e.endpoints {
		z.endpoints[ep.addr] = append(z.endpoints[ep.addr], ep.hostname+"."+e.name+"."+e.namespace+".svc")
	}
}

func newEntry(svc *corev1.Service, pods podIndex, user []*discoveryv1.EndpointSlice) *svcEntry {
	e := &svcEntry{name: svc.Name, namespace: svc.Namespace, ports: noPorts}
	if len(svc.Spec.Ports) > 0 {
		e.ports = nil
		for _, sp := range svc.Spec.Ports {
			e.ports = append(e.ports, port{sp.Name, protocol(sp.Protocol), sp.Port})
		}
	}
	ips := svc.Spec.ClusterIPs
	if len(ips) == 0 {
		ips = []string{svc.Spec.ClusterIP}
	}
	switch {
	case svc.Spec.Type == corev1.ServiceTypeExternalName:
		e.kind, e.externalName = external, svc.Spec.ExternalName
		return e // the controller gives ExternalName Services no endpoints
	case ips[0] == corev1.ClusterIPNone:
		e.kind = headless
	default:
		for _, s := range ips {
			if a, err := netip.ParseAddr(s); err == nil {
				e.clusterIPs = append(e.clusterIPs, a.Unmap())
			}
		}
	}
	e.endpoints = endpoints(svc, pods)
	if service.UserManaged(svc) {
		e.endpoints = userEndpoints(svc, user)
	}
	return e
}

func protocol(p corev1.Protocol) string {
	return string(cmp.Or(p, corev1.ProtocolTCP))
}

// hash feeds what DNS answers for e into h, so the SOA serial changes when
// an answer may have.
func (e *svcEntry) hash(h io.Writer) {
	fmt.Fprintf(h, "%s/%s %d %s %v %v;", e.namespace, e.name, e.kind, e.externalName, e.clusterIPs, e.ports)
	for _, ep := range e.endpoints {
		fmt.Fprintf(h, "%s %s %v;", ep.addr, ep.hostname, ep.ports)
	}
}
