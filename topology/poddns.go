package topology

import (
	"fmt"
	"slices"
	"strings"
	"unicode"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// What a pod says about its own names and resolver ends up, as the kubelet
// writes it, in the pod's /etc/resolv.conf, /etc/hosts and hostname: a value
// with a newline in it would add a line of its own there (a nameserver
// nobody asked for). So these fields are checked as the API server checks
// them (k8s.io/kubernetes pkg/apis/core/validation: validateDNSPolicy,
// validatePodDNSConfig, ValidateHostAliases, and the hostname and subdomain
// labels in ValidatePodSpec), and resolver options, which it only requires
// to have a name, may not hold white space either.

// Limits the API server applies, from libc's resolver.
const (
	maxDNSNameservers     = 3
	maxDNSSearchPaths     = 32
	maxDNSSearchListChars = 2048
)

var dnsPolicies = []corev1.DNSPolicy{corev1.DNSClusterFirstWithHostNet, corev1.DNSClusterFirst, corev1.DNSDefault, corev1.DNSNone}

// checkPodNames checks the fields of spec (at p) that name the pod and
// configure its resolver.
func checkPodNames(d *doc, r *report, p path, spec *corev1.PodSpec) {
	for _, f := range []struct {
		name, value string
	}{{"hostname", spec.Hostname}, {"subdomain", spec.Subdomain}} {
		if f.value == "" {
			continue
		}
		if errs := validation.IsDNS1123Label(f.value); len(errs) > 0 {
			r.errorf(d.at(p.with(f.name)...), "%s.%s %q is invalid: %s", p, f.name, f.value, strings.Join(errs, "; "))
		}
	}
	checkDNSPolicy(d, r, p, spec)
	if c := spec.DNSConfig; c != nil {
		checkDNSConfig(d, r, p.with("dnsConfig"), c)
	}
	for i, a := range spec.HostAliases {
		checkHostAlias(d, r, p.with("hostAliases", i), a)
	}
}

func checkDNSPolicy(d *doc, r *report, p path, spec *corev1.PodSpec) {
	policy := spec.DNSPolicy
	if policy != "" && !slices.Contains(dnsPolicies, policy) {
		r.errorf(d.at(p.with("dnsPolicy")...), "%s.dnsPolicy %q must be one of %v", p, policy, dnsPolicies)
	}
	if policy != corev1.DNSNone {
		return
	}
	switch c := spec.DNSConfig; {
	case c == nil:
		r.errorf(d.at(p.with("dnsPolicy")...), "%s.dnsConfig is required when dnsPolicy is None", p)
	case len(c.Nameservers) == 0:
		r.errorf(d.at(p.with("dnsConfig")...), "%s.dnsConfig.nameservers: at least one nameserver is required when dnsPolicy is None", p)
	}
}

func checkDNSConfig(d *doc, r *report, p path, c *corev1.PodDNSConfig) {
	if len(c.Nameservers) > maxDNSNameservers {
		r.errorf(d.at(p.with("nameservers")...), "%s.nameservers: %d nameservers; at most %d", p, len(c.Nameservers), maxDNSNameservers)
	}
	for i, ns := range c.Nameservers {
		if msg := ipProblem(ns); msg != "" {
			r.errorf(d.at(p.with("nameservers", i)...), "%s.nameservers[%d] %q %s", p, i, ns, msg)
		}
	}
	if len(c.Searches) > maxDNSSearchPaths {
		r.errorf(d.at(p.with("searches")...), "%s.searches: %d search domains; at most %d", p, len(c.Searches), maxDNSSearchPaths)
	}
	if n := len(strings.Join(c.Searches, " ")); n > maxDNSSearchListChars {
		r.errorf(d.at(p.with("searches")...), "%s.searches: %d characters with the spaces between them; at most %d", p, n, maxDNSSearchListChars)
	}
	for i, s := range c.Searches {
		if msg := searchProblem(s); msg != "" {
			r.errorf(d.at(p.with("searches", i)...), "%s.searches[%d] %q is invalid: %s", p, i, s, msg)
		}
	}
	for i, o := range c.Options {
		op := p.with("options", i)
		switch {
		case o.Name == "":
			r.errorf(d.at(op...), "%s.name is required", op)
		case hasSpace(o.Name):
			r.errorf(d.at(op.with("name")...), "%s.name %q must not contain white space (it is written into resolv.conf as is)", op, o.Name)
		}
		if o.Value != nil && hasSpace(*o.Value) {
			r.errorf(d.at(op.with("value")...), "%s.value %q must not contain white space (it is written into resolv.conf as is)", op, *o.Value)
		}
	}
}

// searchProblem checks a search domain as the API server does with relaxed
// DNS search validation (on by default since Kubernetes 1.33): a DNS
// subdomain that may have a trailing dot and underscores, or a lone ".".
func searchProblem(s string) string {
	if s == "." {
		return ""
	}
	if errs := validation.IsDNS1123SubdomainWithUnderscore(strings.TrimSuffix(s, ".")); len(errs) > 0 {
		return strings.Join(errs, "; ")
	}
	return ""
}

func checkHostAlias(d *doc, r *report, p path, a corev1.HostAlias) {
	if msg := ipProblem(a.IP); msg != "" {
		r.errorf(d.at(p.with("ip")...), "%s.ip %q %s", p, a.IP, msg)
	}
	for j, h := range a.Hostnames {
		if errs := validation.IsDNS1123Subdomain(h); len(errs) > 0 {
			r.errorf(d.at(p.with("hostnames", j)...), "%s.hostnames[%d] %q is invalid: %s", p, j, h, strings.Join(errs, "; "))
		}
	}
}

// ipProblem says what is wrong with an IP address field, or "". It is the
// API server's check of these fields with strict IP validation: no leading
// zeros (which libc would read as octal), no IPv4-mapped IPv6.
func ipProblem(s string) string {
	errs := validation.IsValidIPForLegacyField(nil, s, true, nil)
	if len(errs) == 0 {
		return ""
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Detail
	}
	return fmt.Sprintf("is not an IP address: %s", strings.Join(msgs, "; "))
}

func hasSpace(s string) bool { return strings.ContainsFunc(s, unicode.IsSpace) }
