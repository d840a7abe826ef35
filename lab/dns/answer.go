package dns

import (
	"errors"

	"github.com/miekg/dns"
)

// Answer is the reply to req. It never fails: malformed or foreign
// queries get an error rcode, as a server would send them.
func (z *Zone) Answer(req *dns.Msg) *dns.Msg {
	m := new(dns.Msg)
	opt := req.IsEdns0()
	switch {
	case len(req.Question) != 1:
		m.SetRcodeFormatError(req)
		return m
	case req.Opcode != dns.OpcodeQuery:
		m.SetRcode(req, dns.RcodeNotImplemented)
		return m
	case opt != nil && opt.Version() != 0:
		m.SetRcode(req, dns.RcodeBadVers) // RFC 6891: we speak EDNS version 0 only
		m.Extra = append(m.Extra, replyOPT(opt))
		return m
	}
	q, ok := z.question(req.Question[0].Name, req.Question[0].Qtype)
	if !ok || q.qtype == dns.TypeAXFR || q.qtype == dns.TypeIXFR {
		// Never forward, never transfer: the lab has nobody to ask and
		// nothing to hand out wholesale.
		m.SetRcode(req, dns.RcodeRefused)
	} else {
		z.reply(m, req, q)
	}
	if opt != nil {
		m.Extra = append(m.Extra, replyOPT(opt))
	}
	return m
}

// reply fills m the way CoreDNS's handler does: records, or an
// authoritative NXDOMAIN or NODATA with the SOA for negative caching.
func (z *Zone) reply(m, req *dns.Msg, q question) {
	answer, extra, err := z.resolve(q)
	switch {
	case errors.Is(err, errNoName):
		m.SetRcode(req, dns.RcodeNameError)
		m.Ns = []dns.RR{z.soa(q.zone)}
	case len(answer) == 0:
		m.SetReply(req)
		m.Ns = []dns.RR{z.soa(q.zone)}
	default:
		m.SetReply(req)
		m.Answer, m.Extra = answer, extra
	}
	m.Authoritative = true
}

// resolve answers q by type; err is errNoName or nil.
func (z *Zone) resolve(q question) (answer, extra []dns.RR, err error) {
	switch q.qtype {
	case dns.TypeA, dns.TypeAAAA:
		answer, err = z.addresses(q, nil)
	case dns.TypeSRV:
		answer, extra, err = z.srv(q)
	case dns.TypeCNAME:
		answer, err = z.cname(q)
	case dns.TypePTR:
		answer, err = z.ptr(q)
	case dns.TypeTXT:
		answer, err = z.txt(q)
	case dns.TypeSOA:
		// Only the apex has one; below it CoreDNS answers NODATA even for
		// names that do not exist.
		if len(q.base) == 0 {
			answer = []dns.RR{z.soa(q.zone)}
		}
	case dns.TypeNS:
		if len(q.base) == 0 {
			answer, extra = z.ns(q)
			break
		}
		fallthrough
	default:
		// Types a cluster never has: an A lookup tells NODATA from
		// NXDOMAIN.
		q.qtype = dns.TypeA
		_, err = z.addresses(q, nil)
	}
	return answer, extra, err
}

func replyOPT(req *dns.OPT) *dns.OPT {
	o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	o.SetUDPSize(req.UDPSize()) // echoed, as CoreDNS does
	if req.Do() {
		o.SetDo()
	}
	return o
}

func (z *Zone) soa(zone string) dns.RR {
	return &dns.SOA{
		Hdr:     dns.RR_Header{Name: zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: ttl},
		Ns:      "ns.dns." + zone,
		Mbox:    "hostmaster." + zone,
		Serial:  z.serial,
		Refresh: 7200,
		Retry:   1800,
		Expire:  86400,
		Minttl:  ttl,
	}
}
