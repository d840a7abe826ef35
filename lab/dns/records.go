package dns

import (
	"math"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// maxChain bounds the CNAMEs followed for one answer, as CoreDNS does.
const maxChain = 10

// addresses answers A or AAAA (q.qtype), following ExternalName CNAMEs
// that stay inside the zone; chain holds the CNAMEs followed so far.
func (z *Zone) addresses(q question, chain []dns.RR) ([]dns.RR, error) {
	hits, err := z.lookup(q)
	if err != nil {
		return nil, err
	}
	var out []dns.RR
	seen := map[netip.Addr]bool{}
	for _, h := range hits {
		if h.target != "" {
			out = append(out, z.follow(q, h.target, chain)...)
			continue
		}
		if h.addr.Is4() != (q.qtype == dns.TypeA) || seen[h.addr] {
			continue
		}
		seen[h.addr] = true
		out = append(out, address(q.name, h.addr))
	}
	return out, nil
}

// follow is the CNAME to target and, when the target is in the zone, what
// it resolves to; a target in the zone that resolves to nothing yields
// nothing at all, as in CoreDNS. A target outside is left to the client:
// CoreDNS would ask upstream, and the lab has no upstream.
func (z *Zone) follow(q question, target string, chain []dns.RR) []dns.RR {
	target = dns.Fqdn(target)
	if dns.IsSubDomain(q.lname, target) || len(chain) > maxChain || seenTarget(chain, target) {
		return nil // it would loop
	}
	c := &dns.CNAME{Hdr: header(q.name, dns.TypeCNAME), Target: target}
	next, ok := z.question(target, q.qtype)
	if !ok || !strings.EqualFold(next.zone, q.zone) {
		return []dns.RR{c}
	}
	rrs, err := z.addresses(next, append(chain, c))
	if err != nil || len(rrs) == 0 {
		return nil
	}
	return append([]dns.RR{c}, rrs...)
}

func seenTarget(chain []dns.RR, target string) bool {
	for _, rr := range chain {
		if c, ok := rr.(*dns.CNAME); ok && c.Target == target {
			return true
		}
	}
	return false
}

// srv points at each hit's owner name, with its address in the
// additional section so the client needs no second query. Hits without a
// port have none to offer. Weights share 100 among all hits, as CoreDNS
// computes them, before duplicates are dropped.
func (z *Zone) srv(q question) (answer, extra []dns.RR, err error) {
	hits, err := z.lookup(q)
	if err != nil {
		return nil, nil, err
	}
	weight := srvWeight(len(hits))
	type srvKey struct {
		target string
		port   int32
	}
	type addrKey struct {
		target string
		addr   netip.Addr
	}
	seenSRV, seenAddr := map[srvKey]bool{}, map[addrKey]bool{}
	for _, h := range hits {
		if h.port < 0 {
			continue
		}
		target := h.owner + "." + q.zone
		if k := (srvKey{target, h.port}); !seenSRV[k] {
			seenSRV[k] = true
			answer = append(answer, &dns.SRV{Hdr: header(q.name, dns.TypeSRV), Weight: weight, Port: uint16(h.port), Target: target})
		}
		if k := (addrKey{target, h.addr}); !seenAddr[k] {
			seenAddr[k] = true
			extra = append(extra, address(target, h.addr))
		}
	}
	return answer, extra, nil
}

// srvWeight is CoreDNS's arithmetic, floating point included, so weights
// round the same way.
func srvWeight(n int) uint16 {
	w := uint16(math.Floor(100.0 / float64(100*n) * 100))
	return max(w, 1)
}

// cname is the ExternalName's target; other names have none.
func (z *Zone) cname(q question) ([]dns.RR, error) {
	hits, err := z.lookup(q)
	if err != nil || len(hits) == 0 || hits[0].target == "" {
		return nil, err
	}
	return []dns.RR{&dns.CNAME{Hdr: header(q.name, dns.TypeCNAME), Target: dns.Fqdn(hits[0].target)}}, nil
}

// ptr names a ClusterIP's Service, or else every endpoint with the
// address. A name that is no full reverse address is looked up as any
// other name, which has no PTR.
func (z *Zone) ptr(q question) ([]dns.RR, error) {
	a, ok := reverseAddr(q.lname)
	if !ok {
		_, err := z.records(q)
		return nil, err
	}
	names := z.endpoints[a]
	if s, ok := z.clusterIPs[a]; ok {
		names = []string{s}
	}
	if len(names) == 0 {
		return nil, errNoName
	}
	var out []dns.RR
	seen := map[string]bool{}
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, &dns.PTR{Hdr: header(q.name, dns.TypePTR), Ptr: n + "." + z.domain})
		}
	}
	return out, nil
}

// txt serves only the schema version of the Kubernetes DNS specification;
// other names that exist are NODATA. Unlike the other types, a name that
// exists but has no hits (a namespace, the apex) counts as missing: CoreDNS
// says NXDOMAIN there.
func (z *Zone) txt(q question) ([]dns.RR, error) {
	if len(q.base) == 1 && q.base[0] == "dns-version" {
		const version, versionTTL = "1.1.0", 28800
		rr := &dns.TXT{Hdr: header(q.name, dns.TypeTXT), Txt: []string{version}}
		rr.Hdr.Ttl = versionTTL
		return []dns.RR{rr}, nil
	}
	if hits, _ := z.records(q); len(hits) > 0 {
		return nil, nil
	}
	return nil, errNoName
}

// ns answers the apex with kube-dns, addresses included.
func (z *Zone) ns(q question) (answer, extra []dns.RR) {
	target := kubeDNS + ".svc." + q.zone
	for i, a := range z.nameservers() {
		if i == 0 {
			answer = append(answer, &dns.NS{Hdr: header(q.name, dns.TypeNS), Ns: target})
		}
		extra = append(extra, address(target, a))
	}
	return answer, extra
}

func header(name string, rrtype uint16) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: rrtype, Class: dns.ClassINET, Ttl: ttl}
}

func address(name string, a netip.Addr) dns.RR {
	if a.Is4() {
		return &dns.A{Hdr: header(name, dns.TypeA), A: a.AsSlice()}
	}
	return &dns.AAAA{Hdr: header(name, dns.TypeAAAA), AAAA: a.AsSlice()}
}
