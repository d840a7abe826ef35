package trace

// Layer 2: what a packet's way into and out of a namespace owed to the
// neighbour table, a VXLAN device's FDB and the bridges, and which of
// kinn's entries was missing when the probe got lost.
//
// kinn's overlay is flannel's vxlan backend with learning off (package
// lab/plan): in every node, per other node, a permanent neighbour (that
// node's VTEP address, its pod CIDR's .0, -> its VTEP MAC), an FDB entry
// on the VXLAN device (that MAC -> its underlay address) and an onlink
// route (its pod CIDR via its VTEP address). Nothing is learned there, so
// an entry deleted by hand is not healed by the kernel: without the route
// the FIB falls back on a shorter one (the default route to the switch);
// without the neighbour the frame cannot be built; without the FDB entry
// the device has nowhere to send the frame and drops it (the kernel's
// reason NO_TX_TARGET). The pods' gateway and the nodes' pod neighbours are
// permanent too (kinn's CNI plugin sets them); what a bridge learns about
// a MAC's port is not, and a bridge floods what it has not learned.
//
// The facts are read after the probe (kernel.Layer2), each from the table
// the kernel used for the route it chose; the words compare them with what
// kinn programs (Planned), to say "set by kinn" only where it is, and to
// name an entry kinn programs that is not there.

import (
	"cmp"
	"fmt"
	"net/netip"
	"strings"
)

// Components of the layer-2 hops.
const (
	CompNeighbour = "neighbour"
	CompFDB       = "fdb"
	CompVXLAN     = "vxlan"
)

// L2 is what the kernel's tables held for one routing decision in one
// namespace, read after the probe by kernel.Layer2.
type L2 struct {
	// Matched is the FIB entry the route came from (`ip route get
	// fibmatch`), invalid when the FIB had none.
	Matched netip.Prefix
	NextHop netip.Addr // whose MAC the packet needed: the gateway, or the destination on-link
	MAC     string     // the frame's destination MAC: the neighbour's, or the bridged frame's
	Neigh   *Neigh     // NextHop's entry on the route's device; nil: none
	// FDB is where the frame went by its destination MAC: the VXLAN
	// device's remote, or the bridge port it is behind; nil: no entry.
	FDB    *FDBEntry
	Bridge bool  // the route's device (or the device the frame was bridged by) is a bridge
	Out    *VTEP // the VXLAN device the packet left by
	In     *VTEP // the VXLAN device it arrived by: decapsulated there
}

// Neigh is a neighbour entry: an address's MAC on a device.
type Neigh struct {
	Dev   string
	IP    netip.Addr
	MAC   string
	State string // PERMANENT, REACHABLE, STALE, FAILED...; "" in a plan
}

// FDBEntry is a forwarding database entry: for a VXLAN device, the
// remote VTEP a MAC's frames are sent to; for a bridge, the port a MAC
// is behind.
type FDBEntry struct {
	Dev       string // the VXLAN device or the bridge
	MAC       string
	Dst       netip.Addr // VXLAN: the remote VTEP's underlay address
	VNI       uint32     // VXLAN: the entry's own VNI; 0 for the device's
	Port      string     // bridge: the port
	Default   bool       // VXLAN: the all-zeros entry, for MACs it has none of their own
	Permanent bool
}

// VTEP is a VXLAN device's own parameters.
type VTEP struct {
	Dev   string
	Local netip.Addr // the outer source
	VNI   uint32
	Port  uint16 // the outer UDP destination port
}

// Planned is what kinn programs in one namespace: to tell its entries
// from others' and to name the one that is missing.
type Planned struct {
	Routes []PlannedRoute // with the connected routes of its addresses
	Neigh  []Neigh
	FDB    []FDBEntry
	Ports  map[string]string // bridge port -> what is behind it: "pod default/web-…", "node kinn-worker"
}

// PlannedRoute is a route kinn programs.
type PlannedRoute struct {
	Dst    netip.Prefix
	Gw     netip.Addr
	Dev    string
	Onlink bool
}

func (r PlannedRoute) String() string {
	s := r.Dst.String()
	if r.Gw.IsValid() {
		s += " via " + r.Gw.String()
	}
	s += " dev " + r.Dev
	if r.Onlink {
		s += " onlink"
	}
	return s
}

// arrival tells how the packet came into a namespace: decapsulated by a
// VXLAN device, or on a pod's own interface.
func (in Input) arrival(base Hop, r Route, pl Place) []Hop {
	h := base
	switch {
	case r.L2 != nil && r.L2.In != nil:
		v := r.L2.In
		h.Component = CompVXLAN
		from := in.Net.nodeOfPod(r.Src)
		if from == nil {
			h.Action = fmt.Sprintf("decapsulated (VNI %d) by %s", v.VNI, v.Dev)
			h.Detail = fmt.Sprintf("UDP port %d on %s", v.Port, v.Local)
			return []Hop{h}
		}
		h.Action = fmt.Sprintf("decapsulated from %s (VNI %d) by %s", from.Name, v.VNI, v.Dev)
		h.Detail = fmt.Sprintf("UDP port %d on %s; the inner source %s is in %s's pod CIDR %s", v.Port, v.Local, r.Src, from.Name, from.PodCIDR)
		return []Hop{h}
	case pl.What == "pod" && r.IIF != "":
		h.Component = CompBridge
		h.Action = "arrived on the pod's " + r.IIF
		if node, port := in.portOf(pl); port != "" {
			h.Detail = fmt.Sprintf("by the veth from node %s, whose end there is %s", node, port)
		}
		return []Hop{h}
	}
	return nil
}

// portOf finds a pod's port on its node's bridge.
func (in Input) portOf(pod Place) (node, port string) {
	for ns, p := range in.Places {
		if p.What != "node" || p.Node != pod.Node {
			continue
		}
		for port, what := range in.Net.Planned[ns].Ports {
			if what == "pod "+pod.Pod {
				return p.Node, port
			}
		}
	}
	return "", ""
}

// departure tells how the packet left a namespace after its route: the
// neighbour, the FDB entry, the encapsulation or the bridge port; and,
// first, a route of kinn's that the FIB did not have.
func (in Input) departure(base Hop, r Route, pl Place) []Hop {
	l := r.L2
	if l == nil {
		return nil
	}
	var out []Hop
	if h, ok := in.missingRoute(base, r, pl); ok {
		out = append(out, h)
	}
	switch {
	case r.Bridge != "":
		return append(out, in.bridgePort(base, r.Bridge, l))
	case r.Local || r.Err != "" || r.Dev == "":
		return out
	}
	h, ok := in.neighbour(base, r, pl)
	out = append(out, h)
	switch {
	case !ok:
		return out
	case l.Out != nil:
		return append(out, in.vxlan(base, r, pl)...)
	case l.Bridge:
		return append(out, in.bridgePort(base, r.Dev, l))
	}
	return out
}

// missingRoute names kinn's route for the destination when the FIB
// matched a shorter one (or had none): that route is not in the table.
func (in Input) missingRoute(base Hop, r Route, pl Place) (Hop, bool) {
	want, ok := in.plannedRoute(r.Netns, r.Dst)
	switch {
	case !ok || r.Bridge != "" || r.Local:
		return Hop{}, false
	case r.L2.Matched.IsValid() && r.L2.Matched.Bits() >= want.Dst.Bits():
		return Hop{}, false
	case !r.L2.Matched.IsValid() && r.Err == "": // the FIB answered, but not which entry
		return Hop{}, false
	}
	h := base
	h.Component = CompRoute
	h.Action = fmt.Sprintf("no route %s in %s", want, placeWords(pl))
	if nd := in.Net.nodeOfPod(want.Dst.Addr()); nd != nil {
		h.Action = fmt.Sprintf("no route to %s's pods (%s) in %s", nd.Name, want, placeWords(pl))
	}
	took := "no route at all"
	if r.L2.Matched.IsValid() {
		took = "the route for " + r.L2.Matched.String()
	}
	h.Detail = fmt.Sprintf("kinn programs this route; without it the FIB matched %s instead", took)
	return in.lost(h, r), true
}

// plannedRoute is kinn's most specific route to dst in a namespace.
func (in Input) plannedRoute(netns string, dst netip.Addr) (PlannedRoute, bool) {
	var best PlannedRoute
	found := false
	for _, p := range in.Net.Planned[netns].Routes {
		if p.Dst.Contains(dst) && (!found || p.Dst.Bits() > best.Dst.Bits()) {
			best, found = p, true
		}
	}
	return best, found
}

// neighbour tells the next hop's MAC; false when there was none to use.
func (in Input) neighbour(base Hop, r Route, pl Place) (Hop, bool) {
	l := r.L2
	h := base
	h.Component = CompNeighbour
	n := l.Neigh
	want, planned := in.plannedNeigh(r.Netns, r.Dev, l.NextHop)
	if n == nil || n.MAC == "" || n.State == "FAILED" || n.State == "INCOMPLETE" {
		h.Action = fmt.Sprintf("no neighbour entry for %s on %s in %s", l.NextHop, r.Dev, placeWords(pl))
		if n != nil && n.State != "" {
			h.Action = fmt.Sprintf("neighbour %s on %s did not resolve (%s) in %s", l.NextHop, r.Dev, n.State, placeWords(pl))
		}
		h.Detail = "the kernel cannot address the frame to " + cmp.Or(in.whose(l.NextHop), l.NextHop.String())
		if planned {
			h.Detail = fmt.Sprintf("kinn sets it permanently to %s (%s); without it the kernel cannot address the frame", want.MAC, in.whose(l.NextHop))
		}
		return in.lost(h, r), false
	}
	h.Action = fmt.Sprintf("%s is %s on %s", n.IP, n.MAC, n.Dev)
	var how []string
	how = append(how, n.State)
	switch {
	case planned && strings.EqualFold(want.MAC, n.MAC) && n.State == "PERMANENT":
		how = append(how, "set by kinn")
	case planned:
		how = append(how, "kinn sets "+want.MAC+": changed by hand?")
	case n.State != "PERMANENT" && n.State != "NOARP":
		how = append(how, "learned by ARP")
	}
	h.Detail = strings.Join(how, ", ")
	if nd := in.Net.nodeOf(n.IP); nd != nil && n.IP == r.Gw {
		h.Detail += ": the next-hop node " + nd.Name
	} else if w := in.whose(n.IP); w != "" {
		h.Detail += ": " + w
	}
	return h, true
}

func (in Input) plannedNeigh(netns, dev string, ip netip.Addr) (Neigh, bool) {
	for _, n := range in.Net.Planned[netns].Neigh {
		if n.Dev == dev && n.IP == ip {
			return n, true
		}
	}
	return Neigh{}, false
}

// vxlan tells the FDB entry and the outer header of a packet a VXLAN
// device sent, or the missing entry.
func (in Input) vxlan(base Hop, r Route, pl Place) []Hop {
	l, v := r.L2, r.L2.Out
	mac := l.MAC
	h := base
	h.Component = CompFDB
	f := l.FDB
	if f == nil {
		owner := "where to send frames for " + mac
		if nd := in.Net.nodeOfPod(l.NextHop); nd != nil {
			owner = fmt.Sprintf("which node has %s", nd.PodCIDR)
		}
		h.Action = fmt.Sprintf("no FDB entry for %s on %s in %s: the VXLAN device does not know %s", mac, v.Dev, placeWords(pl), owner)
		h.Detail = "without it the device has nowhere to send the frame"
		for _, p := range in.Net.Planned[r.Netns].FDB {
			if p.Dev == v.Dev && strings.EqualFold(p.MAC, mac) {
				h.Detail = fmt.Sprintf("kinn programs %s -> %s (%s); without it the device has nowhere to send the frame", p.MAC, p.Dst, in.whose(p.Dst))
			}
		}
		return []Hop{in.lost(h, r)}
	}
	to := ""
	if nd := in.Net.nodeOf(f.Dst); nd != nil {
		to = " (" + nd.Name + ")"
	}
	h.Action = fmt.Sprintf("%s -> VTEP %s%s", mac, f.Dst, to)
	h.Detail = "on " + f.Dev
	if f.Default {
		h.Action = fmt.Sprintf("%s -> VTEP %s%s by the default entry (00:00:00:00:00:00)", mac, f.Dst, to)
	}
	if f.Permanent {
		h.Detail += ", permanent"
	}
	if in.plannedFDB(r.Netns, *f) {
		h.Detail += ", set by kinn"
	}
	vni := v.VNI
	if f.VNI != 0 {
		vni = f.VNI
	}
	e := base
	e.Component = CompVXLAN
	e.Action = fmt.Sprintf("encapsulated: outer %s -> %s UDP %d VNI %d", v.Local, f.Dst, v.Port, vni)
	e.Detail = "by " + v.Dev + ", over the underlay"
	if nd := in.Net.nodeOf(f.Dst); nd != nil {
		e.Detail += " to node " + nd.Name
	}
	return []Hop{h, e}
}

func (in Input) plannedFDB(netns string, f FDBEntry) bool {
	for _, p := range in.Net.Planned[netns].FDB {
		if p.Dev == f.Dev && strings.EqualFold(p.MAC, f.MAC) && p.Dst == f.Dst {
			return true
		}
	}
	return false
}

// bridgePort tells which port of a bridge the frame left by.
func (in Input) bridgePort(base Hop, bridge string, l *L2) Hop {
	h := base
	h.Component = CompBridge
	f := l.FDB
	if f == nil || f.Port == "" {
		h.Action = fmt.Sprintf("%s is not in %s's FDB: flooded to every port", cmp.Or(l.MAC, "the destination MAC"), bridge)
		return h
	}
	h.Action = fmt.Sprintf("left the bridge %s by port %s", bridge, f.Port)
	if what := in.Net.Planned[base.Namespace].Ports[f.Port]; what != "" {
		h.Action += " (" + what + ")"
	}
	h.Detail = fmt.Sprintf("%s's FDB: %s is behind %s", bridge, f.MAC, f.Port)
	return h
}

// lost makes a hop naming a missing entry the drop hop when the probe got
// no answer: the entry is why. The kernel's own report of the drop in the
// same namespace and device joins it, rather than following as a hop of
// its own (addKernelDrops leaves out a reason a drop hop already names).
func (in Input) lost(h Hop, r Route) Hop {
	if in.Probe.Outcome != NoAnswer && in.Probe.Outcome != Refused {
		return h
	}
	h.Component = CompDrop
	for _, d := range in.Drops {
		if d.Netns == r.Netns && d.Reason != "NETFILTER_DROP" && (d.Dev == "" || d.Dev == r.Dev) && !strings.Contains(h.Detail, kernelWords(d)) {
			h.Detail += "; " + kernelWords(d)
		}
	}
	return h
}

// whose names what an address of the lab is: a node's VTEP, uplink or
// bridge, the switch, a pod.
func (in Input) whose(a netip.Addr) string {
	n := in.Net
	if a == n.SwitchIP {
		return "the switch"
	}
	for _, nd := range n.Nodes {
		switch {
		case a == nd.Underlay:
			return "node " + nd.Name
		case n.VTEP != "" && a == nd.PodCIDR.Masked().Addr():
			return "the VTEP of node " + nd.Name
		case a == nd.Gateway && n.Bridge == "":
			return fmt.Sprintf("node %s's gateway for its pods (the CNI chain's)", nd.Name)
		case a == nd.Gateway:
			return fmt.Sprintf("node %s's bridge %s", nd.Name, n.Bridge)
		}
	}
	if p, ok := n.Pods[a]; ok {
		return "pod " + p
	}
	return ""
}

func placeWords(pl Place) string {
	switch pl.What {
	case "pod":
		return "pod " + pl.Pod
	case "node":
		return "node " + pl.Node
	}
	return "the switch"
}
