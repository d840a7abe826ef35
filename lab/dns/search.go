package dns

import (
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"kinn.dev/kinn/lab/plan"
)

// What a pod's resolver does with its resolv.conf when a program asks for
// a name (glibc's res_search, which musl and Go's resolver follow in the
// points that matter here): a name with fewer dots than ndots is tried
// with each search domain first and then as it is; one with at least
// ndots dots as it is first; one ending in a dot only as it is. An answer
// that the name does not exist (NXDOMAIN), exists without that type
// (NODATA) or could not be served (SERVFAIL) moves on to the next
// candidate; any other answer, or none at all, ends the search.

// defaultNdots is the resolver's ndots without an options line.
const defaultNdots = 1

// SearchList is the names the resolver asks for name, in order, fully
// qualified.
func SearchList(name string, c plan.DNS) []string {
	if strings.HasSuffix(name, ".") {
		return []string{name}
	}
	asIs := dns.Fqdn(name)
	var out []string
	if strings.Count(name, ".") >= ndots(c.Options) {
		out = append(out, asIs)
	}
	for _, d := range c.Searches {
		if d = strings.Trim(d, "."); d != "" {
			out = append(out, dns.Fqdn(name+"."+d))
		}
	}
	if len(out) == 0 || out[0] != asIs {
		out = append(out, asIs)
	}
	return out
}

// ndots reads the ndots option ("ndots:N", the last one wins, at most 15
// as glibc caps it).
func ndots(opts []string) int {
	n := defaultNdots
	for _, o := range opts {
		if v, ok := strings.CutPrefix(o, "ndots:"); ok {
			if i, err := strconv.Atoi(v); err == nil && i >= 0 {
				n = min(i, 15)
			}
		}
	}
	return n
}

// Attempt is one name the resolver asked and what came back: an rcode
// and the A records, or Err when nothing came back.
type Attempt struct {
	Name  string
	Rcode int
	Addrs int // A records in the answer
	Err   error
}

// Result says how an attempt left the search: found (it has addresses),
// go on to the next candidate, or stop.
func (a Attempt) Result() (found, next bool) {
	switch {
	case a.Err != nil:
		return false, false
	case a.Rcode == dns.RcodeSuccess && a.Addrs > 0:
		return true, false
	case a.Rcode == dns.RcodeSuccess, a.Rcode == dns.RcodeNameError, a.Rcode == dns.RcodeServerFailure:
		return false, true
	}
	return false, false
}

// String is the attempt as the user reads it: "web.default.svc.cluster.local.: NXDOMAIN".
func (a Attempt) String() string {
	switch {
	case a.Err != nil:
		return a.Name + ": " + a.Err.Error()
	case a.Rcode == dns.RcodeSuccess && a.Addrs == 0:
		return a.Name + ": no A record"
	}
	return a.Name + ": " + dns.RcodeToString[a.Rcode]
}
