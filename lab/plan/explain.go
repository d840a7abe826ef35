package plan

import (
	"fmt"
	"net/netip"
)

// Explain says in words what a change to node does, naming the node each
// entry leads to, for `kinn up`'s report of what it repaired:
// "FDB entry for kinn-worker's VTEP (02:.. -> 172.18.0.3) was missing: restored".
func (l *Lab) Explain(node string, c Change) string {
	what := l.describe(c)
	switch c.Op {
	case OpAdd:
		if c.Link != nil {
			return fmt.Sprintf("%s: %s was %s: created", node, what, c.Reason)
		}
		return fmt.Sprintf("%s: %s was %s: restored", node, what, c.Reason)
	case OpDel:
		return fmt.Sprintf("%s: %s was %s: removed", node, what, c.Reason)
	}
	return fmt.Sprintf("%s: %s was wrong (%s): fixed", node, what, c.Reason)
}

// describe names the object of a change in a learner's terms.
func (l *Lab) describe(c Change) string {
	switch {
	case c.Sysctl != nil:
		return fmt.Sprintf("sysctl %s (want %s)", c.Sysctl.Key, c.Sysctl.Value)
	case c.Link != nil:
		return fmt.Sprintf("link %s (%s)", c.Link.Name, c.Link.Kind)
	case c.Addr != nil:
		return fmt.Sprintf("address %s on %s", c.Addr.Addr, c.Addr.Link)
	case c.Neigh != nil:
		return fmt.Sprintf("neighbour %s on %s%s", c.Neigh.IP, c.Neigh.Dev, l.whose(c.Neigh.IP))
	case c.FDB != nil:
		return fmt.Sprintf("FDB entry %s -> %s on %s%s", c.FDB.MAC, c.FDB.Dst, c.FDB.Dev, l.whose(c.FDB.Dst))
	case c.Route != nil:
		return fmt.Sprintf("route %s%s", c.Route, l.whoseCIDR(c.Route.Dst))
	}
	return "nothing"
}

// whose names the node or switch an address belongs to: its underlay
// address, or its VTEP's (the pod CIDR's network address).
func (l *Lab) whose(a netip.Addr) string {
	if l.Switch.Addr.Addr() == a {
		return " (the switch)"
	}
	for _, n := range l.Nodes {
		switch a {
		case n.Underlay.Addr():
			return fmt.Sprintf(" (%s's underlay address)", n.Name)
		case n.PodCIDR.Addr():
			return fmt.Sprintf(" (%s's VTEP)", n.Name)
		}
	}
	return ""
}

// whoseCIDR names the node whose pod CIDR a route leads to.
func (l *Lab) whoseCIDR(p netip.Prefix) string {
	for _, n := range l.Nodes {
		if n.PodCIDR == p {
			return fmt.Sprintf(" (to %s's pods)", n.Name)
		}
	}
	return ""
}
