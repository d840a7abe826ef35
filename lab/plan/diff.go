package plan

import (
	"fmt"
	"net/netip"
	"slices"
)

// NodeState is what was observed in a node's namespace, in the plan's terms.
type NodeState struct {
	Sysctls map[string]string
	Links   map[string]LinkState
	Neigh   []Neigh // permanent entries on kinn's VXLAN devices
	FDB     []FDB   // permanent entries on kinn's VXLAN devices
	Routes  []Route // main-table routes not added by the kernel itself
}

// LinkState is an observed link.
type LinkState struct {
	Link
	Up     bool
	Master string
}

// Op is what a change does.
type Op string

const (
	OpAdd Op = "add"
	OpDel Op = "del"
	OpSet Op = "set" // sysctls, MTU, MAC, up: changed in place
)

// Change is one step to bring a node to its desired state. Exactly one of the
// object fields is set. Reason says why, for logs and `kinn up -v`.
type Change struct {
	Op     Op
	Reason string
	Sysctl *Sysctl
	Link   *Link
	Addr   *LinkAddr
	Neigh  *Neigh
	FDB    *FDB
	Route  *Route
}

// LinkAddr is one address on one link.
type LinkAddr struct {
	Link string
	Addr netip.Prefix
}

func (c Change) String() string {
	var obj any
	switch {
	case c.Sysctl != nil:
		obj = fmt.Sprintf("sysctl %s=%s", c.Sysctl.Key, c.Sysctl.Value)
	case c.Link != nil:
		obj = "link " + c.Link.Name
	case c.Addr != nil:
		obj = fmt.Sprintf("address %s on %s", c.Addr.Addr, c.Addr.Link)
	case c.Neigh != nil:
		obj = fmt.Sprintf("neighbour %s lladdr %s dev %s", c.Neigh.IP, c.Neigh.MAC, c.Neigh.Dev)
	case c.FDB != nil:
		obj = fmt.Sprintf("fdb %s dst %s dev %s", c.FDB.MAC, c.FDB.Dst, c.FDB.Dev)
	case c.Route != nil:
		obj = "route " + c.Route.String()
	}
	return fmt.Sprintf("%s %v (%s)", c.Op, obj, c.Reason)
}

// DiffNode lists the changes that turn have into want, in an order the kernel
// accepts: sysctls, links, addresses, then per flannel neighbour, FDB, route.
// Stale entries are removed before their replacements are added.
func DiffNode(want Node, have NodeState) []Change {
	var out []Change
	for _, s := range want.Sysctls {
		if have.Sysctls[s.Key] != s.Value {
			out = append(out, Change{Op: OpSet, Sysctl: &s, Reason: fmt.Sprintf("was %q", have.Sysctls[s.Key])})
		}
	}
	out = append(out, diffLinks(want, have)...)
	out = append(out, diffSlice(want.Neigh, have.Neigh, func(n *Neigh) Change { return Change{Neigh: n} })...)
	out = append(out, diffSlice(want.FDB, have.FDB, func(f *FDB) Change { return Change{FDB: f} })...)
	out = append(out, diffSlice(want.Routes, ownRoutes(want, have.Routes), func(r *Route) Change { return Change{Route: r} })...)
	return out
}

// ownRoutes are the observed routes on kinn's devices. Routes elsewhere
// belong to someone else: a CNI chain's per-pod routes (ptp adds one per
// pod on its veth) must survive the next up.
func ownRoutes(want Node, have []Route) []Route {
	var out []Route
	for _, r := range have {
		if slices.ContainsFunc(want.Links, func(l Link) bool { return l.Name == r.Dev }) {
			out = append(out, r)
		}
	}
	return out
}

// diffLinks handles kinn's devices. The uplink is a veth created from the
// switch side, so a missing one is added like any other link.
func diffLinks(want Node, have NodeState) []Change {
	var out, addrs []Change
	for i := range want.Links {
		w := &want.Links[i]
		h, ok := have.Links[w.Name]
		if ok {
			if why := incompatible(*w, h.Link); why != "" {
				out = append(out, Change{Op: OpDel, Link: w, Reason: why})
				ok = false
			}
		}
		if !ok {
			out = append(out, Change{Op: OpAdd, Link: w, Reason: "missing"})
			h = LinkState{}
		} else if (w.MTU != 0 && h.MTU != w.MTU) || (w.MAC != "" && h.MAC != w.MAC) || !h.Up {
			out = append(out, Change{Op: OpSet, Link: w, Reason: fmt.Sprintf("mtu %d mac %s up %v", h.MTU, h.MAC, h.Up)})
		}
		for _, a := range w.Addrs {
			if !slices.Contains(h.Addrs, a) {
				addrs = append(addrs, Change{Op: OpAdd, Addr: &LinkAddr{w.Name, a}, Reason: "missing"})
			}
		}
		for _, a := range h.Addrs {
			if !slices.Contains(w.Addrs, a) {
				out = append(out, Change{Op: OpDel, Addr: &LinkAddr{w.Name, a}, Reason: "not in the plan"})
			}
		}
	}
	for name, h := range have.Links {
		if h.Kind == KindVXLAN && !slices.ContainsFunc(want.Links, func(l Link) bool { return l.Name == name }) {
			out = append(out, Change{Op: OpDel, Link: &h.Link, Reason: "not in the plan"})
		}
	}
	return append(out, addrs...)
}

// incompatible says why an existing link cannot be kept (flannel's
// vxlanLinksIncompat does the same for its device), or "" if it can.
func incompatible(w, h Link) string {
	if w.Kind != h.Kind {
		return fmt.Sprintf("kind %s, want %s", h.Kind, w.Kind)
	}
	if w.VXLAN != nil {
		if h.VXLAN == nil || *h.VXLAN != *w.VXLAN {
			return fmt.Sprintf("vxlan %+v, want %+v", h.VXLAN, *w.VXLAN)
		}
	}
	return ""
}

// diffSlice deletes what is observed but not wanted, then adds what is wanted
// but missing, keeping the wanted order.
func diffSlice[T comparable](want, have []T, mk func(*T) Change) []Change {
	var out []Change
	for i := range have {
		if !slices.Contains(want, have[i]) {
			c := mk(&have[i])
			c.Op, c.Reason = OpDel, "not in the plan"
			out = append(out, c)
		}
	}
	for i := range want {
		if !slices.Contains(have, want[i]) {
			c := mk(&want[i])
			c.Op, c.Reason = OpAdd, "missing"
			out = append(out, c)
		}
	}
	return out
}

// PodState is what was observed of one pod.
type PodState struct {
	Netns    bool // the namespace exists
	Eth0     bool
	Up       bool
	Addrs    []netip.Prefix
	Gateway  netip.Addr // default route's gateway
	HostVeth bool       // its peer exists in the node, on the pod bridge and up
}

// PodDrift says why a pod must be attached again, or "" if it is intact.
func PodDrift(want Pod, have PodState) string {
	switch {
	case !have.Netns:
		return "namespace missing"
	case !have.Eth0:
		return "eth0 missing"
	case want.HostVeth != "" && !have.HostVeth:
		return "host veth missing or detached from " + PodBridge
	case !have.Up:
		return "eth0 down"
	case !want.IP.IsValid():
		return "not attached"
	case !slices.Contains(have.Addrs, want.IP):
		return fmt.Sprintf("address %s missing", want.IP)
	case want.Gateway.IsValid() && have.Gateway != want.Gateway:
		return fmt.Sprintf("default route via %v, want %s", have.Gateway, want.Gateway)
	}
	return ""
}
