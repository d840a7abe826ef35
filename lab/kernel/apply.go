package kernel

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"kinn.dev/kinn/lab/plan"
)

// ApplyNode carries out the plan's changes for one node. A missing uplink is
// created from the switch side as a veth pair whose peer lands in the node.
func ApplyNode(sw plan.Switch, n plan.Node, changes []plan.Change) error {
	var sysctls []plan.Sysctl
	for _, c := range changes {
		if c.Sysctl != nil {
			sysctls = append(sysctls, *c.Sysctl)
		}
	}
	if len(sysctls) > 0 {
		if err := Do(n.Netns, func() error { return writeSysctls(sysctls) }); err != nil {
			return fmt.Errorf("node %s: %w", n.Name, err)
		}
	}
	h, err := handle(n.Netns)
	if err != nil {
		return err
	}
	defer h.Close()
	for _, c := range changes {
		if c.Sysctl != nil {
			continue
		}
		err := applyChange(h, sw, n, c)
		if c.Op == plan.OpDel && alreadyGone(err) {
			// Removing one thing takes others with it (a link its
			// addresses, routes and neighbours; an address its routes):
			// what a deletion wants is already true.
			err = nil
		}
		if err != nil {
			return fmt.Errorf("node %s: %s: %w", n.Name, c, err)
		}
	}
	return nil
}

// alreadyGone reports the errors a deletion meets when its object is
// already gone: no such link, entry, route or address.
func alreadyGone(err error) bool {
	return err != nil && (isNotExist(err) || errors.Is(err, unix.EADDRNOTAVAIL))
}

func writeSysctls(ss []plan.Sysctl) error {
	for _, s := range ss {
		if err := os.WriteFile(filepath.Join("/proc/sys", s.Key), []byte(s.Value), 0o644); err != nil {
			return fmt.Errorf("sysctl %s: %w", s.Key, err)
		}
	}
	return nil
}

func applyChange(h *netlink.Handle, sw plan.Switch, n plan.Node, c plan.Change) error {
	switch {
	case c.Link != nil:
		return applyLink(h, sw, n, c.Op, *c.Link)
	case c.Addr != nil:
		l, err := h.LinkByName(c.Addr.Link)
		if err != nil {
			return err
		}
		a := &netlink.Addr{IPNet: ipnet(c.Addr.Addr)}
		if c.Op == plan.OpDel {
			return h.AddrDel(l, a)
		}
		return h.AddrReplace(l, a)
	case c.Neigh != nil:
		return neigh(h, c.Op, c.Neigh.Dev, &netlink.Neigh{
			Family: family(c.Neigh.IP), State: netlink.NUD_PERMANENT, Type: unix.RTN_UNICAST,
			IP: c.Neigh.IP.AsSlice(), HardwareAddr: mac(c.Neigh.MAC),
		})
	case c.FDB != nil:
		// Without AF_BRIDGE and NTF_SELF this would add an ARP entry instead.
		return neigh(h, c.Op, c.FDB.Dev, &netlink.Neigh{
			Family: unix.AF_BRIDGE, Flags: netlink.NTF_SELF, State: netlink.NUD_PERMANENT,
			IP: c.FDB.Dst.AsSlice(), HardwareAddr: mac(c.FDB.MAC),
		})
	case c.Route != nil:
		return route(h, c.Op, *c.Route)
	}
	return fmt.Errorf("empty change")
}

func neigh(h *netlink.Handle, op plan.Op, dev string, nb *netlink.Neigh) error {
	l, err := h.LinkByName(dev)
	if err != nil {
		return err
	}
	nb.LinkIndex = l.Attrs().Index
	if op == plan.OpDel {
		return h.NeighDel(nb)
	}
	return h.NeighSet(nb)
}

func route(h *netlink.Handle, op plan.Op, r plan.Route) error {
	l, err := h.LinkByName(r.Dev)
	if err != nil {
		if op == plan.OpDel && isNotExist(err) {
			return nil
		}
		return err
	}
	nr := &netlink.Route{LinkIndex: l.Attrs().Index, Dst: ipnet(r.Dst), Gw: r.Gw.AsSlice(), Table: unix.RT_TABLE_MAIN}
	if r.Onlink {
		nr.Flags = int(netlink.FLAG_ONLINK)
	}
	if op == plan.OpDel {
		return h.RouteDel(nr)
	}
	return h.RouteReplace(nr)
}

func applyLink(h *netlink.Handle, sw plan.Switch, n plan.Node, op plan.Op, l plan.Link) error {
	switch op {
	case plan.OpDel:
		cur, err := h.LinkByName(l.Name)
		if err != nil {
			return err
		}
		return h.LinkDel(cur)
	case plan.OpSet:
		return setLink(h, l)
	}
	switch l.Kind {
	case plan.KindVeth:
		if err := addUplink(sw, n, l.MAC); err != nil {
			return err
		}
	case plan.KindBridge:
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: l.Name, MTU: l.MTU, HardwareAddr: mac(l.MAC)}}
		if err := h.LinkAdd(br); err != nil {
			return err
		}
	case plan.KindVXLAN:
		dev, err := h.LinkByName(l.VXLAN.Dev)
		if err != nil {
			return fmt.Errorf("vxlan underlay: %w", err)
		}
		vx := &netlink.Vxlan{
			LinkAttrs: netlink.LinkAttrs{Name: l.Name, MTU: l.MTU, HardwareAddr: mac(l.MAC)},
			VxlanId:   int(l.VXLAN.VNI), VtepDevIndex: dev.Attrs().Index, SrcAddr: l.VXLAN.Local.AsSlice(),
			Port: int(l.VXLAN.Port), Learning: false,
		}
		if err := h.LinkAdd(vx); err != nil {
			return err
		}
	}
	return setLink(h, l)
}

// setLink fixes MTU and MAC where the plan sets them, and brings it up.
func setLink(h *netlink.Handle, l plan.Link) error {
	cur, err := h.LinkByName(l.Name)
	if err != nil {
		return err
	}
	if l.MTU != 0 && cur.Attrs().MTU != l.MTU {
		if err := h.LinkSetMTU(cur, l.MTU); err != nil {
			return err
		}
	}
	if l.MAC != "" && cur.Attrs().HardwareAddr.String() != l.MAC {
		if err := h.LinkSetHardwareAddr(cur, mac(l.MAC)); err != nil {
			return err
		}
	}
	return h.LinkSetUp(cur)
}

func mac(s string) net.HardwareAddr {
	m, _ := net.ParseMAC(s)
	return m
}

// family is the netlink address family of an address.
func family(a netip.Addr) int {
	if a.Is4() {
		return netlink.FAMILY_V4
	}
	return netlink.FAMILY_V6
}
