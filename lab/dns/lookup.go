package dns

import (
	"errors"
	"net"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// errNoName means the name does not exist: NXDOMAIN.
var errNoName = errors.New("no such name")

// hit is one thing a name stands for, as CoreDNS's msg.Service is: an
// address, or the external name of an ExternalName Service, with a port
// (-1: none), and the name, relative to the zone, that SRV records point
// at.
type hit struct {
	addr   netip.Addr
	target string // external name
	port   int32
	owner  string
}

// lookup is CoreDNS's Services: the hits for q. SRV has no use for
// external names, which only CNAME can express.
func (z *Zone) lookup(q question) ([]hit, error) {
	if len(q.base) == 2 && q.base[0] == "ns" && q.base[1] == "dns" {
		return z.nameserverHits(q.qtype), nil
	}
	hits, err := z.records(q)
	if q.qtype != dns.TypeSRV {
		return hits, err
	}
	var out []hit
	for _, h := range hits {
		if h.target == "" {
			out = append(out, h)
		}
	}
	return out, err
}

// records is CoreDNS's Records: no error and no hits is NODATA.
func (z *Zone) records(q question) ([]hit, error) {
	r, ok := parse(q.base)
	switch {
	case !ok:
		return nil, errNoName
	case r.kind == "":
		return nil, nil
	case q.reverse || !z.namespaces[r.namespace]:
		return nil, errNoName
	case r.kind == "pod":
		return podHits(r)
	}
	return z.serviceHits(r)
}

// podHits answers "pods insecure": any address spelled with dashes exists
// in any namespace that does, whether or not a pod has it.
func podHits(r request) ([]hit, error) {
	if r.service == "" {
		return nil, nil
	}
	s := r.service
	if strings.Count(s, "-") == 3 && !strings.Contains(s, "--") {
		s = strings.ReplaceAll(s, "-", ".")
	} else {
		s = strings.ReplaceAll(s, "-", ":")
	}
	ip := net.ParseIP(s)
	if ip == nil {
		return nil, errNoName
	}
	a, _ := netip.AddrFromSlice(ip)
	return []hit{{addr: a.Unmap(), owner: r.service + "." + r.namespace + ".pod"}}, nil
}

func (z *Zone) serviceHits(r request) ([]hit, error) {
	if r.service == "" {
		return nil, nil // the namespace itself
	}
	e := z.services[r.service+"."+r.namespace]
	if e == nil {
		return nil, errNoName
	}
	owner := e.name + "." + e.namespace + ".svc"
	switch {
	case e.kind == external:
		// Nothing lives below an ExternalName, and an address is no
		// name to point a CNAME at.
		if r.endpoint != "" || r.port != "" || r.protocol != "" || e.externalName == "" || net.ParseIP(e.externalName) != nil {
			return nil, errNoName
		}
		return []hit{{target: e.externalName, owner: owner}}, nil
	case e.kind == headless || r.endpoint != "":
		return e.endpointHits(r, owner)
	}
	var out []hit
	matched := false
	for _, p := range e.ports {
		if !r.matches(p) {
			continue
		}
		matched = true // a port that matches makes the name exist, addresses or not
		for _, a := range e.clusterIPs {
			out = append(out, hit{addr: a, port: p.number, owner: owner})
		}
	}
	if !matched {
		return nil, errNoName
	}
	return out, nil
}

// endpointHits serves headless Services and, as CoreDNS does for any
// Service, names of single endpoints: one hit per endpoint and port.
func (e *svcEntry) endpointHits(r request, owner string) ([]hit, error) {
	var out []hit
	for _, ep := range e.endpoints {
		if r.endpoint != "" && !strings.EqualFold(r.endpoint, ep.hostname) {
			continue
		}
		for _, p := range ep.ports {
			if r.matches(p) {
				out = append(out, hit{addr: ep.addr, port: p.number, owner: ep.hostname + "." + owner})
			}
		}
	}
	if len(out) == 0 {
		return nil, errNoName
	}
	return out, nil
}

// matches is CoreDNS's matchPortAndProtocol: what the name leaves out
// matches anything.
func (r request) matches(p port) bool {
	return (r.port == "" || strings.EqualFold(r.port, p.name)) &&
		(r.protocol == "" || strings.EqualFold(r.protocol, p.protocol))
}

// nameserverHits answer ns.dns.<zone>, the name CoreDNS gives itself:
// kube-dns's addresses of the type asked for.
func (z *Zone) nameserverHits(qtype uint16) []hit {
	var out []hit
	for _, a := range z.nameservers() {
		if a.Is4() && qtype == dns.TypeA || a.Is6() && qtype == dns.TypeAAAA {
			out = append(out, hit{addr: a, port: 0, owner: "ns.dns"})
		}
	}
	return out
}

// nameservers are the addresses NS answers: kube-dns's ClusterIPs. The
// plugin uses its own pod's Services; the lab's DNS has no pod, and pods
// reach it through kube-dns.
func (z *Zone) nameservers() []netip.Addr {
	if e := z.services[kubeDNS]; e != nil && e.kind == clusterIP {
		return e.clusterIPs
	}
	return nil
}
