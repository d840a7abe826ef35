package probe

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/miekg/dns"
)

// Lookup asks the DNS server at addr (ip:port) for name's A records over
// proto ("udp" or "tcp") from the prober's namespace, the way a pod's
// resolver would, and returns the addresses in the answer.
func (p Prober) Lookup(ctx context.Context, addr, proto, name string) ([]netip.Addr, error) {
	r, err := p.Query(ctx, addr, proto, name)
	if err != nil {
		return nil, err
	}
	if r.Rcode != dns.RcodeSuccess {
		return nil, fmt.Errorf("%s: %s", name, dns.RcodeToString[r.Rcode])
	}
	out := ARecords(r)
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no A record", name)
	}
	return out, nil
}

// Query asks the DNS server at addr for name's A records and returns its
// answer, whatever its rcode.
func (p Prober) Query(ctx context.Context, addr, proto, name string) (*dns.Msg, error) {
	c, err := p.Dial(ctx, proto, addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(p.timeout()))
	co := &dns.Conn{Conn: c}
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), dns.TypeA)
	if err := co.WriteMsg(q); err != nil {
		return nil, err
	}
	return co.ReadMsg()
}

// ARecords are the IPv4 addresses in an answer.
func ARecords(r *dns.Msg) []netip.Addr {
	var out []netip.Addr
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			if ip, ok := netip.AddrFromSlice(a.A.To4()); ok {
				out = append(out, ip)
			}
		}
	}
	return out
}
