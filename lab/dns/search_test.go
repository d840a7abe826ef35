package dns

import (
	"errors"
	"slices"
	"testing"

	"github.com/miekg/dns"

	"kinn.dev/kinn/lab/plan"
)

func TestSearchList(t *testing.T) {
	pod := plan.DNS{Searches: []string{"default.svc.cluster.local", "svc.cluster.local", "cluster.local"}, Options: []string{"ndots:5"}}
	for _, c := range []struct {
		name string
		conf plan.DNS
		want []string
	}{
		{"web", pod, []string{"web.default.svc.cluster.local.", "web.svc.cluster.local.", "web.cluster.local.", "web."}},
		// Four dots are fewer than ndots 5: the search list comes first.
		{"web.default.svc.cluster.local", pod, []string{"web.default.svc.cluster.local.default.svc.cluster.local.",
			"web.default.svc.cluster.local.svc.cluster.local.", "web.default.svc.cluster.local.cluster.local.", "web.default.svc.cluster.local."}},
		{"web.default.svc.cluster.local.", pod, []string{"web.default.svc.cluster.local."}},
		{"a.b", plan.DNS{Searches: []string{"x"}}, []string{"a.b.", "a.b.x."}}, // ndots 1 by default
		{"a", plan.DNS{Searches: []string{"x."}, Options: []string{"ndots:0"}}, []string{"a.", "a.x."}},
		{"a", plan.DNS{}, []string{"a."}},
	} {
		if got := SearchList(c.name, c.conf); !slices.Equal(got, c.want) {
			t.Errorf("SearchList(%q, %v) = %q, want %q", c.name, c.conf, got, c.want)
		}
	}
}

func TestAttemptResult(t *testing.T) {
	for _, c := range []struct {
		a           Attempt
		found, next bool
		text        string
	}{
		{Attempt{Name: "a.", Rcode: dns.RcodeSuccess, Addrs: 1}, true, false, "a.: NOERROR"},
		{Attempt{Name: "a.", Rcode: dns.RcodeNameError}, false, true, "a.: NXDOMAIN"},
		{Attempt{Name: "a.", Rcode: dns.RcodeSuccess}, false, true, "a.: no A record"},
		{Attempt{Name: "a.", Rcode: dns.RcodeServerFailure}, false, true, "a.: SERVFAIL"},
		{Attempt{Name: "a.", Rcode: dns.RcodeRefused}, false, false, "a.: REFUSED"},
		{Attempt{Name: "a.", Err: errors.New("no answer")}, false, false, "a.: no answer"},
	} {
		found, next := c.a.Result()
		if found != c.found || next != c.next || c.a.String() != c.text {
			t.Errorf("%+v: %v %v %q, want %v %v %q", c.a, found, next, c.a.String(), c.found, c.next, c.text)
		}
	}
}
