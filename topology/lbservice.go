package topology

import (
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// checkLoadBalancerSpec checks the fields only LoadBalancer Services may
// have, as the API server does, and trims source ranges of the spaces it
// tolerates.
func checkLoadBalancerSpec(d *doc, r *report, spec *corev1.ServiceSpec) {
	isLB := spec.Type == corev1.ServiceTypeLoadBalancer
	only := func(field string) {
		r.errorf(d.at("spec", field), "spec.%s may only be used when spec.type is LoadBalancer", field)
	}
	if ip := spec.LoadBalancerIP; ip != "" {
		if a, err := netip.ParseAddr(ip); err != nil || !a.Is4() {
			r.errorf(d.at("spec", "loadBalancerIP"), "spec.loadBalancerIP %q must be an IPv4 address", ip)
		} else if !isLB {
			only("loadBalancerIP")
		}
	}
	if c := spec.LoadBalancerClass; c != nil {
		if errs := validation.IsQualifiedName(*c); len(errs) > 0 {
			r.errorf(d.at("spec", "loadBalancerClass"), "spec.loadBalancerClass %q: %s", *c, strings.Join(errs, "; "))
		} else if !isLB {
			only("loadBalancerClass")
		}
	}
	for i, s := range spec.LoadBalancerSourceRanges {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		switch {
		case err != nil || !p.Addr().Is4():
			r.errorf(d.at("spec", "loadBalancerSourceRanges", i), "spec.loadBalancerSourceRanges[%d] %q must be an IPv4 CIDR such as 203.0.113.0/24", i, s)
		case !isLB:
			only("loadBalancerSourceRanges")
			return
		default:
			spec.LoadBalancerSourceRanges[i] = p.Masked().String()
		}
	}
}
