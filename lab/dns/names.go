package dns

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// question is a query name placed in one of the zone's zones.
type question struct {
	name    string   // as asked, fully qualified: the owner of answers
	lname   string   // lower case
	zone    string   // the zone as the client spelled it: SOA and SRV targets use it
	base    []string // the lower-case labels left of the zone
	reverse bool     // in in-addr.arpa or ip6.arpa
	qtype   uint16
}

// question places name in the zone it belongs to; false means none, and
// the query is refused.
func (z *Zone) question(name string, qtype uint16) (question, bool) {
	name = dns.Fqdn(name)
	lname := strings.ToLower(name)
	best := ""
	for _, zn := range z.zones {
		if len(zn) > len(best) && dns.IsSubDomain(zn, lname) {
			best = zn
		}
	}
	if best == "" || len(best) > len(name) {
		return question{}, false
	}
	labels := dns.SplitDomainName(lname)
	return question{
		name:    name,
		lname:   lname,
		zone:    name[len(name)-len(best):],
		base:    labels[:len(labels)-dns.CountLabel(best)],
		reverse: best != z.domain,
		qtype:   qtype,
	}, true
}

// request is a name below the zone taken apart as CoreDNS's parseRequest
// does. kind "" is a name above any namespace (the apex, svc., pod.):
// it exists but holds nothing.
type request struct {
	kind           string // "svc" or "pod"
	namespace      string
	service        string // or, under pod, the dashed address
	endpoint       string
	port, protocol string
}

// parse takes base apart from the right; false means the name cannot
// exist.
func parse(base []string) (request, bool) {
	var r request
	n := len(base)
	if n == 0 || n == 1 && (base[0] == "svc" || base[0] == "pod") {
		return r, true
	}
	r.kind = base[n-1]
	if r.kind != "svc" && r.kind != "pod" {
		return r, false
	}
	r.namespace = base[n-2]
	if n >= 3 {
		r.service = base[n-3]
	}
	switch n - 3 {
	case 1:
		r.endpoint = base[0]
	case 2:
		r.port, r.protocol = strings.TrimPrefix(base[0], "_"), strings.TrimPrefix(base[1], "_")
	default:
		if n > 5 {
			return r, false // too long to mean anything
		}
	}
	return r, true
}

// reverseAddr reads the address out of a full in-addr.arpa or ip6.arpa
// name; anything shorter or malformed is no address.
func reverseAddr(lname string) (netip.Addr, bool) {
	if s, ok := strings.CutSuffix(lname, ".in-addr.arpa."); ok {
		labels := strings.Split(s, ".")
		slices.Reverse(labels)
		a, err := netip.ParseAddr(strings.Join(labels, "."))
		return a, err == nil && a.Is4()
	}
	if s, ok := strings.CutSuffix(lname, ".ip6.arpa."); ok {
		nibbles := strings.Split(s, ".")
		if len(nibbles) != 32 {
			return netip.Addr{}, false
		}
		slices.Reverse(nibbles)
		var b strings.Builder
		for i, n := range nibbles {
			if i > 0 && i%4 == 0 {
				b.WriteByte(':')
			}
			b.WriteString(n)
		}
		a, err := netip.ParseAddr(b.String())
		if err != nil || len(b.String()) != 39 {
			return netip.Addr{}, false
		}
		return a.Unmap(), true // a mapped IPv4 address names the IPv4 one, as net.IP does
	}
	return netip.Addr{}, false
}
