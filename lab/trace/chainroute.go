package trace

import "fmt"

// chainRoute explains a route through the devices of a user's CNI chain:
// in such a lab the pods' bridge, veths and gateways are the chain's (the
// reference bridge plugin's bridge may be called anything, ptp has none),
// so they are named by what the kernel says they are, not as kinn's. The
// overlay between nodes is still kinn's, and explained as such.
func (n Net) chainRoute(r Route, pl Place) (string, bool) {
	if !n.Chain {
		return "", false
	}
	local := false
	for _, nd := range n.Nodes {
		if nd.Name == pl.Node && nd.PodCIDR.Contains(r.Dst) {
			local = true
		}
	}
	switch {
	case pl.What == "node" && local && r.DevKind == "bridge":
		return "a pod of this node, through " + r.Dev + ", the CNI chain's bridge", true
	case pl.What == "node" && local && r.DevKind != "":
		return fmt.Sprintf("a pod of this node, on the CNI chain's %s %s", r.DevKind, r.Dev), true
	case pl.What == "pod" && r.Gw.IsValid():
		return fmt.Sprintf("the pod's route from the CNI chain, to the gateway %s", r.Gw), true
	case pl.What == "pod":
		return "on the pod's own link " + r.Dev + ", from the CNI chain", true
	}
	return "", false
}
