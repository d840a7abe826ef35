package service

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
)

// ipRange is a service subnet as the ClusterIP allocator sees it: every
// address but the network and broadcast ones, the first and tenth kept for
// the cluster's own Services.
type ipRange struct {
	subnet   netip.Prefix
	base     uint32 // the network address
	size     uint32 // addresses in the subnet, network and broadcast included
	band     uint32 // addresses 1..band are the lower band
	reserved map[netip.Addr]string
}

func newIPRange(subnet netip.Prefix) *ipRange {
	subnet = subnet.Masked()
	r := &ipRange{subnet: subnet, base: u32(subnet.Addr()), size: 1 << (32 - subnet.Bits())}
	hosts := r.size - 2
	// The apiserver's lower band: hosts/16, at least 16, at most 256.
	r.band = min(max(16, hosts/16), 256)
	if r.band >= hosts {
		r.band = 0
	}
	r.reserved = map[netip.Addr]string{r.nth(1): KubernetesService}
	if hosts >= 10 {
		r.reserved[r.nth(10)] = KubeDNSService
	}
	return r
}

func u32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func (r *ipRange) nth(i uint32) netip.Addr {
	v := r.base + i
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// problem says what is wrong with svc having a, or "" if nothing is.
func (r *ipRange) problem(svc string, a netip.Addr) string {
	switch {
	case !r.subnet.Contains(a):
		return fmt.Sprintf("is outside the serviceSubnet %s", r.subnet)
	case a == r.nth(0):
		return fmt.Sprintf("is the network address of the serviceSubnet %s", r.subnet)
	case a == r.nth(r.size-1):
		return fmt.Sprintf("is the broadcast address of the serviceSubnet %s", r.subnet)
	}
	if owner, ok := r.reserved[a]; ok && owner != svc {
		return fmt.Sprintf("is reserved for Service %s", owner)
	}
	return ""
}

// order is the order addresses are handed out in: the upper band, then
// the lower one.
func (r *ipRange) order(i uint32) uint32 {
	upper := r.size - 2 - r.band
	if i < upper {
		return 1 + r.band + i
	}
	return 1 + i - upper
}

// ipRequest is a Service that needs a ClusterIP; given is the one it asks
// for, invalid when it asks for none.
type ipRequest struct {
	svc   string
	given netip.Addr
}

func allocateClusterIPs(prev map[string]netip.Addr, r *ipRange, svcs []*corev1.Service) (map[string]netip.Addr, []error) {
	var errs []error
	var reqs []ipRequest
	for _, svc := range svcs {
		given, need, err := requestedIP(svc)
		if err != nil {
			errs = append(errs, err)
		} else if need {
			reqs = append(reqs, ipRequest{Key(svc), given})
		}
	}
	out := map[string]netip.Addr{}
	owner := map[netip.Addr]string{}
	take := func(svc string, a netip.Addr) { out[svc], owner[a] = a, svc }

	var pending, fresh []ipRequest
	for _, q := range reqs {
		p, had := prev[q.svc]
		if had && (!q.given.IsValid() || q.given == p) && r.problem(q.svc, p) == "" && owner[p] == "" {
			take(q.svc, p)
		} else {
			pending = append(pending, q)
		}
	}
	for _, q := range pending {
		switch {
		case !q.given.IsValid():
			fresh = append(fresh, q)
		case r.problem(q.svc, q.given) != "":
			errs = append(errs, fmt.Errorf("Service %s: spec.clusterIP %s %s; pick another address or remove spec.clusterIP to get a free one", q.svc, q.given, r.problem(q.svc, q.given)))
		case owner[q.given] != "":
			errs = append(errs, fmt.Errorf("Service %s: spec.clusterIP %s is already allocated to Service %s; pick another address or remove spec.clusterIP to get a free one", q.svc, q.given, owner[q.given]))
		default:
			take(q.svc, q.given)
		}
	}
	slices.SortFunc(fresh, func(a, b ipRequest) int { return cmp.Compare(a.svc, b.svc) })
	var cursor uint32
	for _, q := range fresh {
		// The cluster's own Services get their reserved addresses.
		if a, ok := reservedFor(r, q.svc); ok && owner[a] == "" {
			take(q.svc, a)
			continue
		}
		for cursor < r.size-2 && !free(r, owner, r.nth(r.order(cursor))) {
			cursor++
		}
		if cursor == r.size-2 {
			errs = append(errs, fmt.Errorf("Service %s: the serviceSubnet %s has no free ClusterIP left; use a larger serviceSubnet or make some Services headless (clusterIP: None)", q.svc, r.subnet))
			continue
		}
		take(q.svc, r.nth(r.order(cursor)))
	}
	return out, errs
}

func free(r *ipRange, owner map[netip.Addr]string, a netip.Addr) bool {
	_, reserved := r.reserved[a]
	return !reserved && owner[a] == ""
}

func reservedFor(r *ipRange, svc string) (netip.Addr, bool) {
	for a, s := range r.reserved {
		if s == svc {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// requestedIP reads what a Service asks for: need is false for headless and
// ExternalName Services, which get no ClusterIP.
func requestedIP(svc *corev1.Service) (given netip.Addr, need bool, err error) {
	spec := svc.Spec
	if spec.Type == corev1.ServiceTypeExternalName {
		return netip.Addr{}, false, nil
	}
	ip := spec.ClusterIP
	switch {
	case len(spec.ClusterIPs) > 1:
		return netip.Addr{}, false, fmt.Errorf("Service %s: spec.clusterIPs %s: kinn is IPv4 only; list one address at most", Key(svc), quoteAll(spec.ClusterIPs))
	case len(spec.ClusterIPs) == 1 && ip == "":
		ip = spec.ClusterIPs[0]
	case len(spec.ClusterIPs) == 1 && spec.ClusterIPs[0] != ip:
		return netip.Addr{}, false, fmt.Errorf("Service %s: spec.clusterIPs[0] %q must equal spec.clusterIP %q; drop one of them", Key(svc), spec.ClusterIPs[0], ip)
	}
	switch ip {
	case corev1.ClusterIPNone:
		return netip.Addr{}, false, nil
	case "":
		return netip.Addr{}, true, nil
	}
	a, perr := netip.ParseAddr(ip)
	if perr != nil || !a.Is4() {
		return netip.Addr{}, false, fmt.Errorf("Service %s: spec.clusterIP %q must be an IPv4 address, \"None\" for a headless Service, or left out", Key(svc), ip)
	}
	return a, true, nil
}
