package kernel

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// RouteProtoLoadBalancer marks the switch's routes to load-balancer
// addresses (`ip route` shows "proto 75"), so that kinn finds and removes
// its own and no other.
const RouteProtoLoadBalancer = 75

// LBRoute is one load-balancer address and the node addresses the switch
// sends it to.
type LBRoute struct {
	Addr netip.Addr
	Via  []netip.Addr // sorted, at least one
}

// SyncLBRoutes makes the switch namespace's load-balancer routes exactly
// want: one host route per address, over every node listed (ECMP, hashed on
// the 5-tuple as EnsureSwitch sets it up, so that one client's connections
// spread as they would over MetalLB's BGP peers). It changes only routes
// that differ and says what it changed.
func SyncLBRoutes(netns string, want []LBRoute) ([]string, error) {
	h, err := handle(netns)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	have, err := lbRoutes(h)
	if err != nil {
		return nil, err
	}
	var changed []string
	for _, r := range want {
		if slices.Equal(have[r.Addr], r.Via) {
			delete(have, r.Addr)
			continue
		}
		if err := h.RouteReplace(lbRoute(r)); err != nil {
			return changed, fmt.Errorf("switch route to %s: %w", r.Addr, err)
		}
		changed = append(changed, fmt.Sprintf("switch: %s via %s", r.Addr, joinAddrs(r.Via)))
		delete(have, r.Addr)
	}
	for a := range have {
		del := &netlink.Route{Dst: ipnet(netip.PrefixFrom(a, a.BitLen())), Table: unix.RT_TABLE_MAIN, Protocol: RouteProtoLoadBalancer}
		if err := h.RouteDel(del); err != nil && !isNotExist(err) {
			return changed, fmt.Errorf("switch route to %s: %w", a, err)
		}
		changed = append(changed, fmt.Sprintf("switch: %s withdrawn", a))
	}
	return changed, nil
}

// lbRoutes reads the switch's load-balancer routes: address -> gateways.
func lbRoutes(h *netlink.Handle) (map[netip.Addr][]netip.Addr, error) {
	rs, err := routeList(h)
	if err != nil {
		return nil, err
	}
	out := map[netip.Addr][]netip.Addr{}
	for _, r := range rs {
		if r.Protocol != RouteProtoLoadBalancer || r.Dst == nil {
			continue
		}
		dst, _ := netip.AddrFromSlice(r.Dst.IP)
		var via []netip.Addr
		if gw, ok := netip.AddrFromSlice(r.Gw); ok {
			via = append(via, gw.Unmap())
		}
		for _, nh := range r.MultiPath {
			if gw, ok := netip.AddrFromSlice(nh.Gw); ok {
				via = append(via, gw.Unmap())
			}
		}
		slices.SortFunc(via, netip.Addr.Compare)
		out[dst.Unmap()] = via
	}
	return out, nil
}

func lbRoute(r LBRoute) *netlink.Route {
	route := &netlink.Route{Dst: ipnet(netip.PrefixFrom(r.Addr, r.Addr.BitLen())), Table: unix.RT_TABLE_MAIN, Protocol: RouteProtoLoadBalancer}
	if len(r.Via) == 1 {
		route.Gw = r.Via[0].AsSlice()
		return route
	}
	for _, gw := range r.Via {
		route.MultiPath = append(route.MultiPath, &netlink.NexthopInfo{Gw: gw.AsSlice()})
	}
	return route
}

func joinAddrs(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}
