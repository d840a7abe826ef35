package kernel

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"

	"kinn.dev/kinn/lab/plan"
)

// EnsureSwitch makes the switch namespace's bridge, with the lab's first
// underlay address, up. Node ports are made by ApplyNode as uplinks. It
// says in words what it found wrong with ports that existed and fixed.
func EnsureSwitch(sw plan.Switch) (fixed []string, err error) {
	if _, err := CreateNetns(sw.Netns); err != nil {
		return nil, err
	}
	// Load-balancer routes over several nodes (SyncLBRoutes) hash on the
	// 5-tuple, so that one client's connections spread over them.
	hash := []plan.Sysctl{{Key: "net/ipv4/fib_multipath_hash_policy", Value: "1"}}
	if err := Do(sw.Netns, func() error { return writeSysctls(hash) }); err != nil {
		return nil, err
	}
	h, err := handle(sw.Netns)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	return ensureSwitch(h, sw)
}

func ensureSwitch(h *netlink.Handle, sw plan.Switch) ([]string, error) {
	if lo, err := h.LinkByName("lo"); err == nil && lo.Attrs().Flags&net.FlagUp == 0 {
		if err := h.LinkSetUp(lo); err != nil {
			return nil, err
		}
	}
	br, err := h.LinkByName(plan.SwitchBridge)
	if isNotExist(err) {
		err = h.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: plan.SwitchBridge, MTU: sw.MTU, HardwareAddr: mac(sw.MAC)}})
		if err == nil {
			br, err = h.LinkByName(plan.SwitchBridge)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("switch bridge: %w", err)
	}
	if err := h.AddrReplace(br, &netlink.Addr{IPNet: ipnet(sw.Addr)}); err != nil {
		return nil, fmt.Errorf("switch address: %w", err)
	}
	if err := dropOtherAddrs(h, br, sw.Addr); err != nil {
		return nil, err
	}
	if br.Attrs().Flags&net.FlagUp == 0 {
		if err := h.LinkSetUp(br); err != nil {
			return nil, err
		}
	}
	if sw.Owner != "" && br.Attrs().Alias != sw.Owner {
		if err := h.LinkSetAlias(br, sw.Owner); err != nil {
			return nil, fmt.Errorf("switch bridge owner: %w", err)
		}
	}
	return ensurePorts(h, sw, br)
}

// dropOtherAddrs removes the bridge's addresses other than want: a
// nodeSubnet changed under a running lab leaves the old one behind, and
// the switch would go on answering for it.
func dropOtherAddrs(h *netlink.Handle, br netlink.Link, want netip.Prefix) error {
	addrs, err := h.AddrList(br, netlink.FAMILY_ALL)
	if err != nil {
		return fmt.Errorf("switch addresses: %w", err)
	}
	for _, a := range addrs {
		p := prefix(a.IPNet)
		if !p.IsValid() || p == want || p.Addr().IsLinkLocalUnicast() {
			continue
		}
		if err := h.AddrDel(br, &a); err != nil && !alreadyGone(err) {
			return fmt.Errorf("switch: remove old address %s: %w", p, err)
		}
	}
	return nil
}

// SwitchOwner reads the owner recorded on a lab's switch bridge: "" when
// there is no switch (or no bridge, or an older lab without one).
func SwitchOwner(netns string) (string, error) {
	if !NetnsExists(netns) {
		return "", nil
	}
	h, err := handle(netns)
	if err != nil {
		return "", err
	}
	defer h.Close()
	br, err := h.LinkByName(plan.SwitchBridge)
	if isNotExist(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return br.Attrs().Alias, nil
}

// ensurePorts puts every node's port that exists back on br0, up. A port
// off the bridge cuts its node from every other while everything inside
// the nodes looks intact (seen after `kinn up` was killed repeatedly under
// load); missing ports are made with their node's uplink by ApplyNode.
func ensurePorts(h *netlink.Handle, sw plan.Switch, br netlink.Link) ([]string, error) {
	var fixed []string
	for _, p := range sw.Ports {
		l, err := h.LinkByName(p.Name)
		if err != nil {
			continue
		}
		if l.Attrs().MasterIndex != br.Attrs().Index {
			if err := h.LinkSetMaster(l, br); err != nil {
				return fixed, fmt.Errorf("switch port %s onto %s: %w", p.Name, plan.SwitchBridge, err)
			}
			fixed = append(fixed, fmt.Sprintf("port %s of node %s was off %s: put back", p.Name, p.Node, plan.SwitchBridge))
		}
		if l.Attrs().Flags&net.FlagUp == 0 {
			if err := h.LinkSetUp(l); err != nil {
				return fixed, fmt.Errorf("switch port %s up: %w", p.Name, err)
			}
			fixed = append(fixed, fmt.Sprintf("port %s of node %s was down: set up", p.Name, p.Node))
		}
	}
	return fixed, nil
}

// addUplink creates node n's leg on the switch: a veth in the switch
// namespace, on br0, whose peer is the node's eth0. Any old switch port of
// that node is removed first (its peer would otherwise block the name).
func addUplink(sw plan.Switch, n plan.Node, peerMAC string) error {
	h, err := handle(sw.Netns)
	if err != nil {
		return err
	}
	defer h.Close()
	port := plan.PortName(n.Name)
	if old, err := h.LinkByName(port); err == nil {
		if err := h.LinkDel(old); err != nil {
			return err
		}
	}
	br, err := h.LinkByName(plan.SwitchBridge)
	if err != nil {
		return fmt.Errorf("switch bridge: %w", err)
	}
	nodeNS, err := openNetns(n.Netns)
	if err != nil {
		return err
	}
	defer nodeNS.Close()
	v := &netlink.Veth{
		LinkAttrs: netlink.LinkAttrs{Name: port, MTU: sw.MTU, MasterIndex: br.Attrs().Index, Flags: net.FlagUp},
		PeerName:  plan.NodeUplink, PeerNamespace: netlink.NsFd(int(nodeNS)), PeerHardwareAddr: mac(peerMAC),
	}
	if err := h.LinkAdd(v); err != nil {
		return fmt.Errorf("veth %s <-> %s/%s: %w", port, n.Name, plan.NodeUplink, err)
	}
	if l, err := h.LinkByName(port); err == nil {
		h.LinkSetAlias(l, n.Name) // names the node in `ip link` of the switch
		return h.LinkSetUp(l)
	}
	return nil
}
