package trace

import (
	"fmt"
	"net/netip"
)

// routeHop explains the FIB's answer in the lab's terms.
func (in Input) routeHop(base Hop, r Route, pl Place) Hop {
	h := base
	h.Component = CompRoute
	raw := fmt.Sprintf("ip route get %s", r.Dst)
	if r.IIF != "" {
		raw += fmt.Sprintf(" from %s iif %s", r.Src, r.IIF)
	}
	h.Rule = raw
	switch {
	case r.Bridge != "":
		h.Component = CompBridge
		h.Action = fmt.Sprintf("bridged by %s (layer 2: not routed here)", r.Bridge)
		return h
	case r.Err != "":
		h.Component, h.Action = CompDrop, "no route to "+r.Dst.String()+": "+r.Err
		return h
	case r.Local:
		h.Action = fmt.Sprintf("%s is this namespace's own address: delivered locally", r.Dst)
		return h
	}
	h.Action = fmt.Sprintf("to %s via %s", r.Dst, r.Dev)
	if r.Gw.IsValid() {
		h.Action = fmt.Sprintf("to %s via %s dev %s", r.Dst, r.Gw, r.Dev)
	}
	h.Detail = in.Net.explainRoute(r, pl)
	return h
}

func (n Net) explainRoute(r Route, pl Place) string {
	owner := n.nodeOfPod(r.Dst)
	if why, ok := n.chainRoute(r, pl); ok {
		return why
	}
	switch {
	case n.VTEP != "" && r.Dev == n.VTEP && owner != nil:
		// Where the device sends it is its FDB's to say (the vxlan hop).
		return fmt.Sprintf("%s's pod CIDR %s through the VXLAN device %s", owner.Name, owner.PodCIDR, r.Dev)
	case pl.What == "node" && r.Dev == n.Bridge:
		return "a pod of this node, through the pod bridge " + r.Dev
	case pl.What == "pod" && r.Gw.IsValid():
		return fmt.Sprintf("the pod's default route, to its node's bridge %s", r.Gw)
	case pl.What == "pod":
		return "on the pod's own link " + r.Dev
	case pl.What == "node" && r.Gw == n.SwitchIP:
		return "the default route to the switch (the outside world)"
	case pl.What == "node" && !r.Gw.IsValid() && r.Dst == n.SwitchIP:
		return "the switch, on the underlay"
	case pl.What == "node" && !r.Gw.IsValid() && n.nodeOf(r.Dst) != nil:
		return "node " + n.nodeOf(r.Dst).Name + ", on the underlay"
	case pl.What == "node" && owner != nil && r.Gw == owner.Underlay:
		return fmt.Sprintf("host-gw: %s's pod CIDR %s via the node itself", owner.Name, owner.PodCIDR)
	case pl.What == "switch":
		if nd := n.nodeOf(r.Gw); nd != nil {
			return "through node " + nd.Name
		}
		if nd := n.nodeOf(r.Dst); nd != nil {
			return "to node " + nd.Name + " on the underlay"
		}
		return "the outside world's route"
	}
	return ""
}

func (n Net) nodeOfPod(a netip.Addr) *NetNode {
	for i, nd := range n.Nodes {
		if nd.PodCIDR.Contains(a) {
			return &n.Nodes[i]
		}
	}
	return nil
}

func (n Net) nodeOf(a netip.Addr) *NetNode {
	for i, nd := range n.Nodes {
		if a.IsValid() && nd.Underlay == a {
			return &n.Nodes[i]
		}
	}
	return nil
}
