package topology

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Networking checks only what can be known from the file: the prefixes are
// well-formed IPv4 networks of ordinary unicast addresses (no loopback,
// multicast, link-local or reserved range) that do not overlap each other,
// and the address space is big enough for the nodes and pods the file asks
// for. Allocation itself is lab/ipam's job.

var (
	defaultPodSubnet     = netip.MustParsePrefix("10.244.0.0/16")
	defaultServiceSubnet = netip.MustParsePrefix("10.96.0.0/16")
	defaultNodeSubnet    = netip.MustParsePrefix("172.18.0.0/16")
	overlays             = []Overlay{OverlayVXLAN, OverlayHostGW, OverlayNone}
	kubeProxyModes       = []string{"iptables", "ipvs", "nftables", "none"}
)

func resolveNetworking(d *doc, f *networkingFile, r *report) Networking {
	n := Networking{
		PodSubnet:         prefix(d, r, "podSubnet", f.PodSubnet, defaultPodSubnet),
		ServiceSubnet:     prefix(d, r, "serviceSubnet", f.ServiceSubnet, defaultServiceSubnet),
		NodeSubnet:        prefix(d, r, "nodeSubnet", f.NodeSubnet, defaultNodeSubnet),
		NodeCIDRMaskSize:  24,
		Overlay:           OverlayVXLAN,
		VNI:               uint32(ranged(d, r, "vni", f.VNI, 1, 1, 1<<24-1)),
		VXLANPort:         uint16(ranged(d, r, "vxlanPort", f.VXLANPort, 4789, 1, 65535)),
		MTU:               int(ranged(d, r, "mtu", f.MTU, 1500, 1280, 9000)),
		KubeProxyMode:     f.KubeProxyMode,
		DisableDefaultCNI: f.DisableDefaultCNI,
		DNSDomain:         cmp.Or(f.DNSDomain, "cluster.local"),
	}
	if errs := validation.IsDNS1123Subdomain(n.DNSDomain); len(errs) > 0 {
		r.errorf(d.at("networking", "dnsDomain"), "networking.dnsDomain %q must be a DNS subdomain: %s", n.DNSDomain, strings.Join(errs, "; "))
	}
	if f.NodeCIDRMaskSize != nil {
		n.NodeCIDRMaskSize = *f.NodeCIDRMaskSize
	}
	if f.Overlay != "" {
		n.Overlay = Overlay(f.Overlay)
		if !slices.Contains(overlays, n.Overlay) {
			r.errorf(d.at("networking", "overlay"), "networking.overlay: unknown overlay %q; valid: %s, %s, %s", f.Overlay, OverlayVXLAN, OverlayHostGW, OverlayNone)
		}
	}
	if f.IPFamily != "" && f.IPFamily != "ipv4" {
		r.errorf(d.at("networking", "ipFamily"), "networking.ipFamily %q is not supported: kinn is IPv4-only", f.IPFamily)
	}
	if f.KubeProxyMode != "" && !slices.Contains(kubeProxyModes, f.KubeProxyMode) {
		r.errorf(d.at("networking", "kubeProxyMode"), "networking.kubeProxyMode %q must be one of %v", f.KubeProxyMode, kubeProxyModes)
	}
	n.NodePortAddresses = nodePortAddresses(d, r, f.NodePortAddresses)
	checkOverlaps(d, r, &n)
	return n
}

// nodePortAddresses reads kube-proxy's nodePortAddresses: either the word
// "primary" alone (as kube-proxy requires) or IPv4 CIDRs. nil is primary.
func nodePortAddresses(d *doc, r *report, in []string) []netip.Prefix {
	var out []netip.Prefix
	for i, s := range in {
		pos := d.at("networking", "nodePortAddresses", i)
		if s == "primary" {
			if len(in) > 1 {
				r.errorf(pos, "networking.nodePortAddresses: %q cannot be combined with CIDRs; list either \"primary\" alone or CIDRs", s)
			}
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil || !p.Addr().Is4() {
			r.errorf(pos, "networking.nodePortAddresses[%d] %q is neither \"primary\" nor an IPv4 CIDR such as 172.18.0.0/16", i, s)
			continue
		}
		if p != p.Masked() {
			r.errorf(pos, "networking.nodePortAddresses[%d] %s has host bits set: the network address is %s", i, s, p.Masked())
		}
		out = append(out, p.Masked())
	}
	return out
}

// prefix parses one of the subnets. An invalid one is reported and replaced
// by its default so that the other checks still run.
func prefix(d *doc, r *report, name, s string, def netip.Prefix) netip.Prefix {
	if s == "" {
		return def
	}
	pos := d.at("networking", name)
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() {
		r.errorf(pos, "networking.%s %q is not an IPv4 prefix such as %s", name, s, def)
		return netip.Prefix{}
	}
	if p != p.Masked() {
		r.errorf(pos, "networking.%s %s has host bits set: the network address is %s", name, s, p.Masked())
		p = p.Masked() // what was almost certainly meant: check the rest with it
	}
	if sp, what, bad := special(p); bad {
		r.errorf(pos, "networking.%s %s holds %s addresses (%s), which no node, pod or Service can use; use a private range such as %s", name, p, what, sp, def)
		return netip.Prefix{}
	}
	return p
}

// specialRanges are the networks no node, pod or Service address may come
// from: packets to or from them are dropped, looped back or flooded by the
// kernel rather than routed. Both families are listed so that the check
// stays right when kinn learns IPv6.
var specialRanges = []struct {
	p    netip.Prefix
	what string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), `"this network"`},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved and broadcast"},
	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

// special reports the first special range p overlaps: p inside it, or it
// inside p (0.0.0.0/0 holds them all).
func special(p netip.Prefix) (netip.Prefix, string, bool) {
	for _, s := range specialRanges {
		if s.p.Overlaps(p) {
			return s.p, s.what, true
		}
	}
	return netip.Prefix{}, "", false
}

func ranged(d *doc, r *report, name string, v *int64, def, lo, hi int64) int64 {
	if v == nil {
		return def
	}
	if *v < lo || *v > hi {
		r.errorf(d.at("networking", name), "networking.%s %d must be in %d..%d", name, *v, lo, hi)
		return def
	}
	return *v
}

// checkOverlaps reports each overlapping pair once, at the subnet written
// last in the file (a default is "written" nowhere, so never blamed).
func checkOverlaps(d *doc, r *report, n *Networking) {
	subnets := []struct {
		name string
		p    netip.Prefix
	}{{"podSubnet", n.PodSubnet}, {"serviceSubnet", n.ServiceSubnet}, {"nodeSubnet", n.NodeSubnet}}
	for i, a := range subnets {
		for _, b := range subnets[i+1:] {
			if !a.p.IsValid() || !b.p.IsValid() || !a.p.Overlaps(b.p) {
				continue
			}
			pos := later(d.at("networking", a.name), d.at("networking", b.name))
			r.errorf(pos, "%s %s overlaps %s %s", a.name, a.p, b.name, b.p)
		}
	}
}

func later(a, b Pos) Pos {
	if b.Line > a.Line || b.Line == a.Line && b.Col > a.Col {
		return b
	}
	return a
}

// checkCapacity checks that the node CIDRs carved from podSubnet are enough
// for the nodes, and that nodeSubnet can address the switch and every node.
func checkCapacity(d *doc, r *report, n *Networking, nodes int) {
	if pod := n.PodSubnet; pod.IsValid() {
		mask := n.NodeCIDRMaskSize
		maskPos := d.at("networking", "nodeCIDRMaskSize")
		switch {
		case mask <= pod.Bits() || mask > 30:
			r.errorf(maskPos, "networking.nodeCIDRMaskSize %d must be greater than podSubnet %s's prefix length and at most 30", mask, pod)
		case uint64(1)<<(mask-pod.Bits()) < uint64(nodes):
			r.errorf(maskPos, "podSubnet %s with nodeCIDRMaskSize %d gives %d node CIDRs for %d nodes", pod, mask, uint64(1)<<(mask-pod.Bits()), nodes)
		}
	}
	if ns := n.NodeSubnet; ns.IsValid() {
		usable := int64(0)
		if ns.Bits() < 31 {
			usable = int64(1)<<(32-ns.Bits()) - 2
		}
		if usable < int64(nodes)+1 {
			r.errorf(d.at("networking", "nodeSubnet"), "nodeSubnet %s has %d usable addresses; the lab's switch and %d nodes need %d", ns, usable, nodes, nodes+1)
		}
	}
}

// podsPerNode is how many pods a node CIDR holds: all addresses but the
// network, the gateway (first host) and the broadcast address. It is 0 when
// the mask is invalid (already reported), which disables the check.
func (n *Networking) podsPerNode() int {
	if n.NodeCIDRMaskSize <= n.PodSubnet.Bits() || n.NodeCIDRMaskSize > 30 {
		return 0
	}
	return 1<<(32-n.NodeCIDRMaskSize) - 3
}
