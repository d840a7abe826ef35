package kernel

import (
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"kinn.dev/kinn/lab/trace"
)

// RouteGet asks the named namespace's FIB which way a packet from src to
// dst goes, as if it arrived on iif ("" for one sent by the namespace
// itself), as `ip route get` does. A FIB that has no answer is an answer,
// in Route.Err, not an error. A frame that came in by a bridge and was not
// addressed to it (dstMAC) was bridged, not routed: no route is asked.
func RouteGet(netnsName string, dst, src netip.Addr, iif, dstMAC string) (trace.Route, error) {
	r := trace.Route{Netns: netnsName, Dst: dst, Src: src, IIF: iif}
	h, err := handle(netnsName)
	if err != nil {
		return r, err
	}
	defer h.Close()
	if iif != "" {
		if br := bridgedBy(h, iif, dstMAC); br != "" {
			r.Bridge = br
			return r, nil
		}
	}
	opts := &netlink.RouteGetOptions{Iif: iif}
	if iif != "" && src.IsValid() {
		opts.SrcAddr = net.IP(src.AsSlice())
	}
	routes, err := h.RouteGetWithOptions(net.IP(dst.AsSlice()), opts)
	if err != nil {
		r.Err = err.Error()
		return r, nil
	}
	if len(routes) == 0 {
		r.Err = "no route"
		return r, nil
	}
	rt := routes[0]
	r.Local = rt.Type == unix.RTN_LOCAL
	r.Gw = addr(rt.Gw)
	if l, err := h.LinkByIndex(rt.LinkIndex); err == nil {
		r.Dev, r.DevKind = l.Attrs().Name, l.Type()
	}
	return r, nil
}

// LinkNames maps the named namespace's interface indexes to their names.
func LinkNames(netnsName string) (map[int]string, error) {
	h, err := handle(netnsName)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	links, err := linkList(h)
	if err != nil {
		return nil, err
	}
	return indexNames(links), nil
}

func indexNames(links []netlink.Link) map[int]string {
	out := map[int]string{}
	for _, l := range links {
		out[l.Attrs().Index] = l.Attrs().Name
	}
	return out
}

// bridgedBy names the bridge that forwarded a frame at layer 2: iif is a
// bridge port, or (br_netfilter reports the bridge as the input device)
// the bridge itself while the frame was addressed to another MAC.
func bridgedBy(h *netlink.Handle, iif, dstMAC string) string {
	l, err := h.LinkByName(iif)
	if err != nil {
		return ""
	}
	if l.Type() == "bridge" {
		if dstMAC != "" && dstMAC != l.Attrs().HardwareAddr.String() && dstMAC != "ff:ff:ff:ff:ff:ff" {
			return iif
		}
		return ""
	}
	if l.Attrs().MasterIndex == 0 {
		return ""
	}
	if m, err := h.LinkByIndex(l.Attrs().MasterIndex); err == nil && m.Type() == "bridge" {
		return m.Attrs().Name
	}
	return ""
}
