package topology

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// kinn's built-in load-balancer controller hands LoadBalancer Services
// addresses from a pool, as cloud-provider-kind does for kind and MetalLB
// on bare metal; the lab's switch routes each address to the nodes (see
// lab/daemon's switch routes). The pool is the cluster document's
// loadBalancer section:
//
//	loadBalancer:
//	  addresses: [172.18.255.200-172.18.255.250, 192.168.10.0/28]
//	  ipMode: VIP
//
// Without the section, the pool is 200-250 in the last /24 of nodeSubnet
// (MetalLB's guide for kind uses the same addresses of kind's network); an
// explicit empty list means no controller: LoadBalancer Services stay
// <pending>, as on a kind cluster without one.

type loadBalancerFile struct {
	Addresses []string `json:"addresses"`
	IPMode    string   `json:"ipMode,omitempty"`
}

// LoadBalancer is the load-balancer controller's configuration.
type LoadBalancer struct {
	// Pool is the addresses the controller hands out, lowest first, as
	// prefixes (a range a-b is the fewest prefixes covering exactly it).
	// Empty: no controller.
	Pool []netip.Prefix
	// IPMode is status.loadBalancer.ingress[].ipMode: VIP (the default)
	// makes every node's proxy take the address as its own; Proxy makes
	// the proxies ignore it and the load balancer (the switch) forward to
	// the Service's node port instead.
	IPMode string
}

// IP modes of status.loadBalancer.ingress (corev1.LoadBalancerIPMode).
const (
	IPModeVIP   = "VIP"
	IPModeProxy = "Proxy"
)

// resolveLoadBalancer reads the loadBalancer section; n is the resolved
// networking, whose subnets the pool must stay clear of.
func resolveLoadBalancer(d *doc, f *loadBalancerFile, r *report, n *Networking, nodes int) LoadBalancer {
	lb := LoadBalancer{IPMode: IPModeVIP}
	if f == nil || f.Addresses == nil {
		lb.Pool = defaultPool(n.NodeSubnet)
		checkDefaultPool(d, r, lb.Pool, n.NodeSubnet, nodes)
	} else {
		lb.Pool = poolPrefixes(d, r, f.Addresses, n, nodes)
	}
	if f != nil && f.IPMode != "" {
		lb.IPMode = f.IPMode
		if f.IPMode != IPModeVIP && f.IPMode != IPModeProxy {
			r.errorf(d.at("loadBalancer", "ipMode"), "loadBalancer.ipMode %q must be %s or %s", f.IPMode, IPModeVIP, IPModeProxy)
		}
	}
	return lb
}

// defaultPool is .200-.250 of nodeSubnet's last /24, or nothing when the
// subnet is smaller than a /24.
func defaultPool(nodeSubnet netip.Prefix) []netip.Prefix {
	if !nodeSubnet.IsValid() || !nodeSubnet.Addr().Is4() || nodeSubnet.Bits() > 24 {
		return nil
	}
	b := lastAddr(nodeSubnet).As4()
	b[3] = 200
	first := netip.AddrFrom4(b)
	b[3] = 250
	return rangePrefixes(first, netip.AddrFrom4(b))
}

// checkDefaultPool: with a /24 node subnet, 198 nodes reach the default pool.
func checkDefaultPool(d *doc, r *report, pool []netip.Prefix, nodeSubnet netip.Prefix, nodes int) {
	if busy := nodeAddrs(nodeSubnet, nodes); len(pool) > 0 && busy.IsValid() && !busy.Addr().Less(pool[0].Addr()) {
		r.errorf(d.at("networking", "nodeSubnet"), "nodeSubnet %s: %d nodes reach the default load-balancer pool %s; set loadBalancer.addresses or use a bigger nodeSubnet", nodeSubnet, nodes, poolString(pool))
	}
}

// poolPrefixes parses the addresses list: CIDRs and first-last ranges.
func poolPrefixes(d *doc, r *report, in []string, n *Networking, nodes int) []netip.Prefix {
	var out []netip.Prefix
	for i, s := range in {
		pos := d.at("loadBalancer", "addresses", i)
		ps, err := parsePoolEntry(s)
		if err != nil {
			r.errorf(pos, "loadBalancer.addresses[%d] %q: %v", i, s, err)
			continue
		}
		if msg := poolClash(ps, out, n, nodes); msg != "" {
			r.errorf(pos, "loadBalancer.addresses[%d] %s %s", i, s, msg)
			continue
		}
		out = append(out, ps...)
	}
	return out
}

// parsePoolEntry reads "10.0.0.0/28" or "10.0.0.1-10.0.0.9".
func parsePoolEntry(s string) ([]netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if from, to, ok := strings.Cut(s, "-"); ok {
		a, errA := netip.ParseAddr(strings.TrimSpace(from))
		b, errB := netip.ParseAddr(strings.TrimSpace(to))
		switch {
		case errA != nil || errB != nil:
			return nil, fmt.Errorf("want a CIDR such as 172.18.255.0/28 or a range such as 172.18.255.200-172.18.255.250")
		case !a.Is4() || !b.Is4():
			return nil, fmt.Errorf("kinn is IPv4-only")
		case b.Less(a):
			return nil, fmt.Errorf("the range ends before it starts")
		}
		return rangePrefixes(a, b), nil
	}
	p, err := netip.ParsePrefix(s)
	switch {
	case err != nil:
		return nil, fmt.Errorf("want a CIDR such as 172.18.255.0/28 or a range such as 172.18.255.200-172.18.255.250")
	case !p.Addr().Is4():
		return nil, fmt.Errorf("kinn is IPv4-only")
	case p != p.Masked():
		return nil, fmt.Errorf("host bits set: the network is %s", p.Masked())
	}
	return []netip.Prefix{p}, nil
}

// poolClash says why addresses ps cannot be handed out, or "".
func poolClash(ps, before []netip.Prefix, n *Networking, nodes int) string {
	busy := nodeAddrs(n.NodeSubnet, nodes)
	for _, p := range ps {
		if sp, what, bad := special(p); bad {
			return fmt.Sprintf("holds %s addresses (%s)", what, sp)
		}
		for _, sub := range []struct {
			name string
			p    netip.Prefix
		}{{"podSubnet", n.PodSubnet}, {"serviceSubnet", n.ServiceSubnet}} {
			if sub.p.IsValid() && sub.p.Overlaps(p) {
				return fmt.Sprintf("overlaps %s %s", sub.name, sub.p)
			}
		}
		if ns := n.NodeSubnet; ns.IsValid() && ns.Bits() < 31 && (p.Contains(lastAddr(ns)) || p.Contains(ns.Addr())) {
			return fmt.Sprintf("holds the network or broadcast address of nodeSubnet %s", ns)
		}
		if busy.IsValid() && rangeOverlaps(p, n.NodeSubnet.Addr(), busy.Addr()) {
			return fmt.Sprintf("overlaps the switch's and nodes' addresses %s-%s of nodeSubnet", n.NodeSubnet.Addr().Next(), busy.Addr())
		}
		for _, q := range before {
			if q.Overlaps(p) {
				return fmt.Sprintf("overlaps an earlier entry (%s)", q)
			}
		}
	}
	return ""
}

// nodeAddrs is the last address the switch and nodes take in nodeSubnet
// (as a /32), or an invalid prefix.
func nodeAddrs(nodeSubnet netip.Prefix, nodes int) netip.Prefix {
	if !nodeSubnet.IsValid() {
		return netip.Prefix{}
	}
	a := nodeSubnet.Addr()
	for range nodes + 1 {
		a = a.Next()
	}
	return netip.PrefixFrom(a, a.BitLen())
}

// rangeOverlaps reports whether p holds an address of first..last.
func rangeOverlaps(p netip.Prefix, first, last netip.Addr) bool {
	return !lastAddr(p).Less(first) && !last.Less(p.Masked().Addr())
}

// lastAddr is the highest address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// rangePrefixes is the fewest prefixes that cover exactly first..last,
// lowest first.
func rangePrefixes(first, last netip.Addr) []netip.Prefix {
	var out []netip.Prefix
	for !last.Less(first) {
		bits := first.BitLen()
		// Grow the block while it stays aligned and within the range.
		for bits > 0 {
			p := netip.PrefixFrom(first, bits-1)
			if p.Masked().Addr() != first || last.Less(lastAddr(p)) {
				break
			}
			bits--
		}
		p := netip.PrefixFrom(first, bits)
		out = append(out, p)
		next := lastAddr(p).Next()
		if !next.IsValid() || next.Less(first) {
			break // the range ran to the end of the address space
		}
		first = next
	}
	return out
}

// poolString renders a pool for messages: "a-b" per run of addresses.
func poolString(pool []netip.Prefix) string {
	var parts []string
	for i := 0; i < len(pool); {
		first, last := pool[i].Addr(), lastAddr(pool[i])
		for i++; i < len(pool) && pool[i].Addr() == last.Next(); i++ {
			last = lastAddr(pool[i])
		}
		if first == last {
			parts = append(parts, first.String())
		} else {
			parts = append(parts, first.String()+"-"+last.String())
		}
	}
	return strings.Join(parts, ", ")
}

// String renders the configuration for messages and diffs.
func (lb LoadBalancer) String() string {
	if len(lb.Pool) == 0 {
		return "no addresses (LoadBalancer Services stay <pending>)"
	}
	return lb.Addresses() + " (ipMode " + lb.IPMode + ")"
}

// Addresses renders the pool as ranges: "172.18.255.200-172.18.255.250".
func (lb LoadBalancer) Addresses() string { return poolString(lb.Pool) }

// Contains reports whether a is in the pool.
func (lb LoadBalancer) Contains(a netip.Addr) bool {
	return slices.ContainsFunc(lb.Pool, func(p netip.Prefix) bool { return p.Contains(a) })
}
