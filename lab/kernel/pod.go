package kernel

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"kinn.dev/kinn/lab/plan"
)

// Attach is what kinn's CNI plugin asks for: a veth from the host (the
// node's namespace) into the pod, on the host's bridge, with the pod's
// address and default route.
type Attach struct {
	HostNetns string // the node's namespace: name or path
	PodNetns  string // path, as CNI_NETNS gives it
	IfName    string
	HostVeth  string
	Bridge    string
	IP        netip.Prefix
	Gateway   netip.Addr
	MTU       int
}

// Attached reports the interfaces made, for the CNI result.
type Attached struct {
	HostMAC, PodMAC string
}

// AttachPod wires a pod. A leftover veth of the same name (an ADD retried
// after a crash) is removed first, so ADD can be repeated.
func AttachPod(a Attach) (Attached, error) {
	var out Attached
	host, err := handleAtPath(a.HostNetns)
	if err != nil {
		return out, err
	}
	defer host.Close()
	podNS, err := netns.GetFromPath(a.PodNetns)
	if err != nil {
		return out, fmt.Errorf("open pod namespace %s: %w", a.PodNetns, err)
	}
	defer podNS.Close()
	pod, err := netlink.NewHandleAt(podNS, unix.NETLINK_ROUTE)
	if err != nil {
		return out, err
	}
	defer pod.Close()
	br, err := host.LinkByName(a.Bridge)
	if err != nil {
		return out, fmt.Errorf("bridge %s: %w", a.Bridge, err)
	}
	if old, err := host.LinkByName(a.HostVeth); err == nil {
		host.LinkDel(old)
	}
	// The pod's interface, though, is the runtime's to DEL first: CNI
	// requires ADD to fail when the container has it already.
	if _, err := pod.LinkByName(a.IfName); err == nil {
		return out, fmt.Errorf("interface %s already exists in %s", a.IfName, a.PodNetns)
	}
	v := &netlink.Veth{
		LinkAttrs: netlink.LinkAttrs{Name: a.HostVeth, MTU: a.MTU, MasterIndex: br.Attrs().Index, Flags: net.FlagUp},
		PeerName:  a.IfName, PeerNamespace: netlink.NsFd(int(podNS)), PeerHardwareAddr: mac(plan.PodMAC(a.IP.Addr())),
	}
	if err := host.LinkAdd(v); err != nil {
		return out, fmt.Errorf("add veth %s: %w", a.HostVeth, err)
	}
	hv, err := host.LinkByName(a.HostVeth)
	if err != nil {
		return out, err
	}
	out.HostMAC = hv.Attrs().HardwareAddr.String()
	// Hairpin: a pod reaching itself through its Service leaves and comes
	// back on the same bridge port, which a bridge refuses without it.
	if err := host.LinkSetHairpin(hv, true); err != nil {
		return out, fmt.Errorf("hairpin on %s: %w", a.HostVeth, err)
	}
	// Static neighbours both ways (the pod's MAC derives from its address,
	// the bridge's is stable): the kernel's ARP table is one table for the
	// whole machine, capped at gc_thresh3 (1,024) dynamic entries across
	// every namespace, so a lab of a thousand pods resolving its gateways
	// dynamically would thrash it. Permanent entries are outside that cap.
	podMAC := mac(plan.PodMAC(a.IP.Addr()))
	if err := host.NeighSet(&netlink.Neigh{LinkIndex: br.Attrs().Index, Family: netlink.FAMILY_V4,
		State: netlink.NUD_PERMANENT, IP: a.IP.Addr().AsSlice(), HardwareAddr: podMAC}); err != nil {
		return out, fmt.Errorf("neighbour %s on %s: %w", a.IP.Addr(), a.Bridge, err)
	}
	out.PodMAC, err = configurePod(pod, a, br.Attrs().HardwareAddr)
	return out, err
}

func configurePod(h *netlink.Handle, a Attach, gwMAC net.HardwareAddr) (string, error) {
	if lo, err := h.LinkByName("lo"); err == nil {
		if err := h.LinkSetUp(lo); err != nil {
			return "", err
		}
	}
	l, err := h.LinkByName(a.IfName)
	if err != nil {
		return "", err
	}
	if err := h.AddrAdd(l, &netlink.Addr{IPNet: ipnet(a.IP)}); err != nil {
		return "", fmt.Errorf("address %s: %w", a.IP, err)
	}
	if err := h.LinkSetUp(l); err != nil {
		return "", err
	}
	if err := h.NeighSet(&netlink.Neigh{LinkIndex: l.Attrs().Index, Family: netlink.FAMILY_V4,
		State: netlink.NUD_PERMANENT, IP: a.Gateway.AsSlice(), HardwareAddr: gwMAC}); err != nil {
		return "", fmt.Errorf("gateway neighbour: %w", err)
	}
	def := &netlink.Route{LinkIndex: l.Attrs().Index, Gw: a.Gateway.AsSlice(), Dst: ipnet(netip.MustParsePrefix("0.0.0.0/0"))}
	if err := h.RouteReplace(def); err != nil {
		return "", fmt.Errorf("default route via %s: %w", a.Gateway, err)
	}
	return l.Attrs().HardwareAddr.String(), nil
}

// ForgetNeighbour removes the static neighbour entry AttachPod made on
// the bridge for a pod's address; one already gone, or no bridge, is fine.
func ForgetNeighbour(hostNetns, bridge string, ip netip.Addr) error {
	host, err := handleAtPath(hostNetns)
	if err != nil {
		return err
	}
	defer host.Close()
	br, err := host.LinkByName(bridge)
	if err != nil {
		if isNotExist(err) {
			return nil
		}
		return err
	}
	err = host.NeighDel(&netlink.Neigh{LinkIndex: br.Attrs().Index, Family: netlink.FAMILY_V4, IP: ip.AsSlice()})
	if err != nil && !isNotExist(err) {
		return fmt.Errorf("neighbour %s on %s: %w", ip, bridge, err)
	}
	return nil
}

// DetachPod removes a pod's veth; whatever is already gone is fine, as CNI
// DEL requires.
func DetachPod(hostNetns, hostVeth string) error {
	host, err := handleAtPath(hostNetns)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return err
	}
	defer host.Close()
	l, err := host.LinkByName(hostVeth)
	if err != nil {
		if isNotExist(err) {
			return nil
		}
		return err
	}
	return host.LinkDel(l)
}

// DeleteContainerLink removes the container's interface ifName in the pod's
// namespace (its path), when it is still there: its veth peer may live in
// a node namespace that was replaced, which kept the pair alive. Absent is
// fine.
func DeleteContainerLink(podNetns, ifName string) error {
	h, err := handleAtPath(podNetns)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return err
	}
	defer h.Close()
	l, err := h.LinkByName(ifName)
	if err != nil {
		if isNotExist(err) {
			return nil
		}
		return err
	}
	return h.LinkDel(l)
}

// ObservePods reads the state of a node's pods: their host veths from the
// node's link table, and eth0, address and default route from each pod.
func ObservePods(node plan.Node, pods []plan.Pod) (map[string]plan.PodState, error) {
	out := map[string]plan.PodState{}
	h, err := handle(node.Netns)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	links, err := linkList(h)
	if err != nil {
		return nil, err
	}
	bridge := -1
	for _, l := range links {
		if l.Attrs().Name == plan.PodBridge {
			bridge = l.Attrs().Index
		}
	}
	veths := map[string]bool{}
	for _, l := range links {
		a := l.Attrs()
		veths[a.Name] = a.MasterIndex == bridge && a.Flags&net.FlagUp != 0
	}
	for _, p := range pods {
		st := observePod(p)
		st.HostVeth = p.HostVeth != "" && veths[p.HostVeth]
		out[p.Key()] = st
	}
	return out, nil
}

func observePod(p plan.Pod) plan.PodState {
	var st plan.PodState
	if !NetnsExists(p.Netns) {
		return st
	}
	st.Netns = true
	h, err := handle(p.Netns)
	if err != nil {
		return st
	}
	defer h.Close()
	l, err := h.LinkByName(plan.PodIface)
	if err != nil {
		return st
	}
	st.Eth0, st.Up = true, l.Attrs().Flags&net.FlagUp != 0
	if addrs, err := addrList(h, l); err == nil {
		for _, a := range addrs {
			st.Addrs = append(st.Addrs, prefix(a.IPNet))
		}
	}
	if routes, err := routeList(h); err == nil {
		for _, r := range routes {
			if r.Dst == nil || r.Dst.IP.IsUnspecified() {
				st.Gateway = addr(r.Gw)
			}
		}
	}
	return st
}

// handleAtPath opens a netlink handle in a namespace given by name or path.
func handleAtPath(nameOrPath string) (*netlink.Handle, error) {
	path := nameOrPath
	if path != "" && path[0] != '/' {
		path = NetnsPath(nameOrPath)
	}
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	return netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
}

// CheckPod says what is wrong with an attached pod, or "" if nothing is.
func CheckPod(hostNetns, podNetns, ifName, hostVeth string, ip netip.Prefix, gw netip.Addr) string {
	host, err := handleAtPath(hostNetns)
	if err != nil {
		return err.Error()
	}
	defer host.Close()
	hv, err := host.LinkByName(hostVeth)
	if err != nil {
		return "host veth " + hostVeth + " missing"
	}
	if hv.Attrs().Flags&net.FlagUp == 0 || hv.Attrs().MasterIndex == 0 {
		return "host veth " + hostVeth + " down or not on the bridge"
	}
	pod, err := handleAtPath(podNetns)
	if err != nil {
		return "pod namespace: " + err.Error()
	}
	defer pod.Close()
	l, err := pod.LinkByName(ifName)
	if err != nil {
		return ifName + " missing"
	}
	addrs, _ := addrList(pod, l)
	found := false
	for _, a := range addrs {
		found = found || prefix(a.IPNet) == ip
	}
	if !found {
		return "address " + ip.String() + " missing"
	}
	return ""
}

// EnsureBridge makes a bridge holding addr, up, unless it exists.
func EnsureBridge(hostNetns, name string, addr netip.Prefix, mtu int) error {
	h, err := handleAtPath(hostNetns)
	if err != nil {
		return err
	}
	defer h.Close()
	if _, err := h.LinkByName(name); err == nil {
		return nil
	}
	// A MAC of its own: a bridge without one takes its lowest port's, which
	// changes as pods come and go and breaks the pods' static neighbour
	// entries for their gateway.
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name, MTU: mtu,
		HardwareAddr: mac(plan.StableMAC(hostNetns + "/" + name + "/" + addr.String()))}}
	if err := h.LinkAdd(br); err != nil && !errors.Is(err, unix.EEXIST) {
		return err
	}
	l, err := h.LinkByName(name)
	if err != nil {
		return err
	}
	if err := h.AddrReplace(l, &netlink.Addr{IPNet: ipnet(addr)}); err != nil {
		return err
	}
	return h.LinkSetUp(l)
}

// PruneVeths deletes the veths on bridge whose names start with prefix and
// are not in keep. A missing bridge has nothing to prune.
func PruneVeths(hostNetns, bridge, prefix string, keep map[string]bool) error {
	h, err := handleAtPath(hostNetns)
	if err != nil {
		return err
	}
	defer h.Close()
	br, err := h.LinkByName(bridge)
	if err != nil {
		return nil
	}
	links, err := linkList(h)
	if err != nil {
		return err
	}
	var errs []error
	for _, l := range links {
		a := l.Attrs()
		if _, ok := l.(*netlink.Veth); !ok || a.MasterIndex != br.Attrs().Index || !strings.HasPrefix(a.Name, prefix) || keep[a.Name] {
			continue
		}
		if err := h.LinkDel(l); err != nil {
			errs = append(errs, fmt.Errorf("delete %s: %w", a.Name, err))
		}
	}
	return errors.Join(errs...)
}
