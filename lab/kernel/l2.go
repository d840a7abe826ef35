package kernel

import (
	"net"
	"net/netip"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"kinn.dev/kinn/lab/trace"
)

// Layer2 reads, in the named namespace, the layer-2 entries a packet used
// with the route r the FIB gave it (RouteGet): the FIB entry that
// matched, the next hop's neighbour entry, and by the MAC that gave, the
// VXLAN device's FDB entry (the remote VTEP) or the bridge's (the port);
// for a frame bridged there, the bridge's entry for its destination
// dstMAC; and the VXLAN device it arrived by, if it did. An entry that is
// not there is an answer (nil), not an error.
func Layer2(netnsName string, r trace.Route, dstMAC string) (*trace.L2, error) {
	h, err := handle(netnsName)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	l := &trace.L2{}
	if r.IIF != "" {
		if v, ok := linkNamed(h, r.IIF).(*netlink.Vxlan); ok {
			l.In = vtepOf(v)
		}
	}
	if r.Bridge != "" {
		l.Bridge, l.MAC = true, dstMAC
		l.FDB, err = bridgeEntry(h, r.Bridge, dstMAC)
		return l, err
	}
	if r.Local {
		return l, nil
	}
	l.Matched = fibMatch(h, r)
	if r.Err != "" || r.Dev == "" {
		return l, nil
	}
	l.NextHop = r.Dst
	if r.Gw.IsValid() {
		l.NextHop = r.Gw
	}
	dev := linkNamed(h, r.Dev)
	if dev == nil {
		return l, nil
	}
	if l.Neigh, err = neighOf(h, dev, l.NextHop); err != nil || l.Neigh == nil {
		return l, err
	}
	l.MAC = l.Neigh.MAC
	switch v := dev.(type) {
	case *netlink.Vxlan:
		l.Out = vtepOf(v)
		l.FDB, err = vxlanEntry(h, v, l.MAC)
	case *netlink.Bridge:
		l.Bridge = true
		l.FDB, err = bridgeEntry(h, r.Dev, l.MAC)
	}
	return l, err
}

func linkNamed(h *netlink.Handle, name string) netlink.Link {
	l, err := h.LinkByName(name)
	if err != nil {
		return nil
	}
	return l
}

func vtepOf(v *netlink.Vxlan) *trace.VTEP {
	return &trace.VTEP{Dev: v.Name, Local: addr(v.SrcAddr), VNI: uint32(v.VxlanId), Port: uint16(v.Port)}
}

// fibMatch is the prefix of the FIB entry the route came from, as `ip
// route get fibmatch` says; invalid when the FIB has none.
func fibMatch(h *netlink.Handle, r trace.Route) netip.Prefix {
	opts := &netlink.RouteGetOptions{Iif: r.IIF, FIBMatch: true}
	if r.IIF != "" && r.Src.IsValid() {
		opts.SrcAddr = net.IP(r.Src.AsSlice())
	}
	routes, err := h.RouteGetWithOptions(net.IP(r.Dst.AsSlice()), opts)
	if err != nil || len(routes) == 0 {
		return netip.Prefix{}
	}
	if routes[0].Dst == nil { // the default route carries no destination
		return netip.PrefixFrom(netip.IPv4Unspecified(), 0)
	}
	return prefix(routes[0].Dst)
}

// neighOf is ip's neighbour entry on dev, nil when there is none.
func neighOf(h *netlink.Handle, dev netlink.Link, ip netip.Addr) (*trace.Neigh, error) {
	ns, err := neighList(h, dev.Attrs().Index, family(ip))
	if err != nil {
		return nil, err
	}
	for _, n := range ns {
		if addr(n.IP) == ip {
			return &trace.Neigh{Dev: dev.Attrs().Name, IP: ip, MAC: n.HardwareAddr.String(), State: neighState(n.State)}, nil
		}
	}
	return nil, nil
}

// neighState names a NUD state as `ip neigh` does.
func neighState(s int) string {
	var names []string
	for _, st := range []struct {
		bit  int
		name string
	}{{netlink.NUD_PERMANENT, "PERMANENT"}, {netlink.NUD_NOARP, "NOARP"}, {netlink.NUD_REACHABLE, "REACHABLE"},
		{netlink.NUD_STALE, "STALE"}, {netlink.NUD_DELAY, "DELAY"}, {netlink.NUD_PROBE, "PROBE"},
		{netlink.NUD_FAILED, "FAILED"}, {netlink.NUD_INCOMPLETE, "INCOMPLETE"}} {
		if s&st.bit != 0 {
			names = append(names, st.name)
		}
	}
	if len(names) == 0 {
		return "NONE"
	}
	return strings.Join(names, ",")
}

// vxlanEntry is where the VXLAN device sends frames for mac: its entry of
// its own, else the all-zeros default entry, as the kernel looks them up;
// nil when it has neither.
func vxlanEntry(h *netlink.Handle, v *netlink.Vxlan, mac string) (*trace.FDBEntry, error) {
	fdb, err := neighList(h, v.Index, unix.AF_BRIDGE)
	if err != nil {
		return nil, err
	}
	var def *trace.FDBEntry
	for _, f := range fdb {
		if f.IP == nil {
			continue
		}
		e := &trace.FDBEntry{Dev: v.Name, MAC: f.HardwareAddr.String(), Dst: addr(f.IP), VNI: uint32(f.VNI),
			Permanent: f.State&netlink.NUD_PERMANENT != 0}
		switch e.MAC {
		case mac:
			return e, nil
		case "00:00:00:00:00:00":
			e.Default = true
			def = e
		}
	}
	return def, nil
}

// bridgeEntry is the port of bridge that mac is behind, nil when the
// bridge has not learned it (it floods such frames).
func bridgeEntry(h *netlink.Handle, bridge, mac string) (*trace.FDBEntry, error) {
	br := linkNamed(h, bridge)
	if br == nil || mac == "" {
		return nil, nil
	}
	fdb, err := neighList(h, 0, unix.AF_BRIDGE)
	if err != nil {
		return nil, err
	}
	for _, f := range fdb {
		if f.MasterIndex != br.Attrs().Index || f.Flags&netlink.NTF_SELF != 0 || f.HardwareAddr.String() != mac {
			continue
		}
		port := ""
		if l, err := h.LinkByIndex(f.LinkIndex); err == nil {
			port = l.Attrs().Name
		}
		return &trace.FDBEntry{Dev: bridge, MAC: mac, Port: port, Permanent: f.State&netlink.NUD_PERMANENT != 0}, nil
	}
	return nil, nil
}
