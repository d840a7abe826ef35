package proxy

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"kinn.dev/kinn/lab/service"
)

// everyKind is a ruleset with every kind of object Build makes: ClusterIP,
// NodePort and external IP frontends, Local policies, affinity, a Service
// without endpoints, the service CIDR's drop rule, a NodePort address.
func everyKind() *Ruleset {
	a := ep("a", "10.244.0.2", "n1", true)
	b := ep("b", "10.244.1.2", "n2", true)
	full := web(a, b)
	full.NodePort, full.ExternalIPs, full.Affinity = 30080, []netip.Addr{netip.MustParseAddr("192.0.2.10")}, time.Hour
	local := web(a, b)
	local.Service, local.ClusterIP, local.NodePort = "local", netip.MustParseAddr("10.96.0.11"), 30081
	local.ExternalLocal, local.InternalLocal = true, true
	empty := web()
	empty.Service, empty.ClusterIP, empty.NodePort = "empty", netip.MustParseAddr("10.96.0.12"), 30082
	n := Node{Name: "n1", IPs: []netip.Addr{netip.MustParseAddr("172.18.0.2")},
		PodCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.0.0/16")}, ServiceCIDRs: []netip.Prefix{netip.MustParsePrefix("10.96.0.0/16")}}
	lb := web(a, b)
	lb.Service, lb.ClusterIP, lb.NodePort = "lb", netip.MustParseAddr("10.96.0.13"), 30083
	lb.LoadBalancerIPs, lb.SourceRanges = []netip.Addr{netip.MustParseAddr("172.18.255.200")}, []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}
	return Build(n, []service.Port{full, local, empty, lb})
}

// TestEveryBuiltObjectHasAMeaning: a chain or map Build makes without a
// meaning, or of another kind than its meaning says, fails here.
func TestEveryBuiltObjectHasAMeaning(t *testing.T) {
	t.Parallel()
	rs := everyKind()
	built := map[string]bool{}
	check := func(name, kind string) {
		m, ok := MeaningOf(name)
		switch {
		case !ok:
			t.Errorf("%s %s has no meaning in meaning.go", kind, name)
		case m.Kind != kind:
			t.Errorf("%s %s is a %s by its meaning", kind, name, m.Kind)
		}
		built[m.Name] = true
	}
	for _, c := range rs.Chains {
		check(c.Name, "chain")
	}
	for _, m := range rs.Maps {
		kind := "map"
		if m.IsSet() {
			kind = "set"
		}
		check(m.Name, kind)
	}
	// Everything with a meaning must be built, or its meaning is stale.
	for _, m := range Meanings() {
		if !built[m.Name] {
			t.Errorf("%s %s has a meaning but Build makes no such thing", m.Kind, m.Name)
		}
	}
}

func TestMeaningsAreWellFormed(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, m := range Meanings() {
		if seen[m.Name] {
			t.Errorf("%s has two meanings", m.Name)
		}
		seen[m.Name] = true
		if m.Text == "" || m.Short == "" || len(m.Short) > 60 {
			t.Errorf("%s: short %q (at most 60 characters) and text %q both needed", m.Name, m.Short, m.Text)
		}
		if m.PerService != strings.HasSuffix(m.Name, "-") {
			t.Errorf("%s: a per-Service family is named by a prefix ending in '-', and only it", m.Name)
		}
	}
}

func TestMeaningOf(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]string{
		"services":                      "services",
		"firewall-check":                "firewall-check", // fixed, not the firewall- family
		"firewall-ips":                  "firewall-ips",
		"firewall-default/web/http/tcp": "firewall-",
		"ep-default/web/http/tcp/a-80":  "ep-",
		"aff-default/web/http/tcp/a-80": "aff-",
		"endpoints-check":               "endpoints-check", // not ep-
		"extra":                         "",
	} {
		m, _ := MeaningOf(name)
		if m.Name != want {
			t.Errorf("MeaningOf(%q) is %q's, want %q's", name, m.Name, want)
		}
	}
	if m, _ := MeaningOf(ChainReject); m.KubeProxy != "reject-chain" || !strings.Contains(m.Text, "ICMP port unreachable") {
		t.Errorf("reject: %+v", m)
	}
	if m, _ := MeaningOf("filter-forward"); !strings.Contains(m.Text, "#122663") {
		t.Errorf("filter-forward does not say why there is no ct state invalid drop: %q", m.Text)
	}
}
