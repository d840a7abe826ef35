package plan

import (
	"fmt"
	"maps"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"kinn.dev/kinn/lab/ipam"
	"kinn.dev/kinn/topology"
)

// vxlanOverhead is what VXLAN over IPv4 adds to a frame (flannel's 50 bytes).
const vxlanOverhead = 50

// Build computes a lab's desired state from its resolved topology and the pod
// address allocations (see PodWants for what to allocate).
func Build(t *topology.Lab, alloc ipam.Allocations) (*Lab, error) {
	nw := t.Networking
	cidrs, err := ipam.NodeCIDRs(nw.PodSubnet, nw.NodeCIDRMaskSize, len(t.Nodes))
	if err != nil {
		return nil, err
	}
	swAddr, underlay, err := ipam.NodeAddrs(nw.NodeSubnet, len(t.Nodes))
	if err != nil {
		return nil, err
	}
	l := &Lab{Name: t.Name, Chain: t.CNI != nil, Switch: Switch{Netns: SwitchNetns(t.Name), Addr: swAddr, MTU: nw.MTU, MAC: StableMAC(t.Name + "/switch")}}
	podMTU := nw.MTU
	if nw.Overlay == topology.OverlayVXLAN {
		podMTU -= vxlanOverhead
	}
	for i, n := range t.Nodes {
		node := Node{
			Name: n.Name, Netns: NodeNetns(t.Name, n.Name),
			Underlay: underlay[i], PodCIDR: cidrs[i], Gateway: ipam.Gateway(cidrs[i]), PodMTU: podMTU,
		}
		l.Nodes = append(l.Nodes, node)
		l.Switch.Ports = append(l.Switch.Ports, Port{Name: PortName(n.Name), Node: n.Name, Netns: node.Netns})
	}
	for i := range l.Nodes {
		wireNode(t, l, i)
		// Static neighbours on the underlay (every MAC is stable): the
		// machine-wide ARP table has room for 1,024 learned entries in all
		// namespaces together, which big labs would otherwise fight over.
		for j, o := range l.Nodes {
			if j != i {
				l.Nodes[i].Neigh = append(l.Nodes[i].Neigh, Neigh{Dev: NodeUplink, IP: o.Underlay.Addr(), MAC: UplinkMAC(t.Name, o.Name)})
			}
		}
		l.Nodes[i].Neigh = append(l.Nodes[i].Neigh, Neigh{Dev: NodeUplink, IP: swAddr.Addr(), MAC: l.Switch.MAC})
		// Like kind's nodes, a default route via the network's gateway (the
		// switch): traffic to a Service without endpoints must be routable
		// to reach the proxy's reject in the forward path, instead of
		// failing with "network unreachable" before it.
		l.Nodes[i].Routes = append(l.Nodes[i].Routes, Route{
			Dst: netip.MustParsePrefix("0.0.0.0/0"), Gw: swAddr.Addr(), Dev: NodeUplink,
		})
	}
	byName := map[string]*Node{}
	for i := range l.Nodes {
		byName[l.Nodes[i].Name] = &l.Nodes[i]
	}
	for _, p := range t.Pods {
		n := byName[p.Node]
		ip, ok := alloc[p.Key()]
		if n == nil || !ok {
			return nil, fmt.Errorf("pod %s has no node or address", p.Key())
		}
		pod := Pod{
			Namespace: p.Namespace, Name: p.Name, Node: n.Name, NodeNetns: n.Netns,
			Netns: PodNetns(t.Name, p.Namespace, p.Name), ContainerID: ContainerID(t.Name, p.Namespace, p.Name),
			Want: netip.PrefixFrom(ip, n.PodCIDR.Bits()), MTU: n.PodMTU, Ports: hostPorts(p.Pod),
		}
		if p.Pod != nil && len(p.Pod.Annotations) > 0 {
			pod.Annotations = maps.Clone(p.Pod.Annotations)
		}
		if !l.Chain {
			pod.IP, pod.Gateway, pod.HostVeth = pod.Want, n.Gateway.Addr(), HostVeth(pod.ContainerID)
		}
		pod.Networks = networks(t, p)
		l.Pods = append(l.Pods, pod)
	}
	return l, nil
}

// PodWants lists what to ask ipam.Assign for: each pod and its node's CIDR.
func PodWants(t *topology.Lab) ([]ipam.Want, error) {
	nw := t.Networking
	cidrs, err := ipam.NodeCIDRs(nw.PodSubnet, nw.NodeCIDRMaskSize, len(t.Nodes))
	if err != nil {
		return nil, err
	}
	idx := map[string]int{}
	for i, n := range t.Nodes {
		idx[n.Name] = i
	}
	var out []ipam.Want
	for _, p := range t.Pods {
		i, ok := idx[p.Node]
		if !ok {
			return nil, fmt.Errorf("pod %s is placed on unknown node %q", p.Key(), p.Node)
		}
		out = append(out, ipam.Want{Key: p.Key(), CIDR: cidrs[i]})
	}
	return out, nil
}

// wireNode fills in node i's links, sysctls, overlay entries and routes.
func wireNode(t *topology.Lab, l *Lab, i int) {
	nw := t.Networking
	n := &l.Nodes[i]
	n.Sysctls = []Sysctl{
		{"net/ipv4/ip_forward", "1"},
		{"net/bridge/bridge-nf-call-iptables", "1"},
		// Byte counters and start times on tracked connections, for the
		// terminal UI's Flows screen (conntrack -L shows them too).
		{"net/netfilter/nf_conntrack_acct", "1"},
		{"net/netfilter/nf_conntrack_timestamp", "1"},
	}
	n.Links = []Link{
		{Name: "lo", Kind: KindLoop},
		{Name: NodeUplink, Kind: KindVeth, MTU: nw.MTU, MAC: UplinkMAC(t.Name, n.Name), Addrs: []netip.Prefix{n.Underlay}},
	}
	if !l.Chain {
		// A chain brings its own bridge (flannel leaves it to the bridge
		// plugin too); two bridges holding the gateway would split the CIDR.
		n.Links = append(n.Links, Link{Name: PodBridge, Kind: KindBridge, MTU: n.PodMTU, MAC: StableMAC(t.Name + "/" + n.Name + "/cni0"), Addrs: []netip.Prefix{n.Gateway}})
	}
	switch nw.Overlay {
	case topology.OverlayNone:
		return
	case topology.OverlayHostGW:
		for j, o := range l.Nodes {
			if j != i {
				n.Routes = append(n.Routes, Route{Dst: o.PodCIDR, Gw: o.Underlay.Addr(), Dev: NodeUplink})
			}
		}
		return
	}
	dev := VTEPName(nw.VNI)
	n.Links = append(n.Links, Link{
		Name: dev, Kind: KindVXLAN, MTU: n.PodMTU, MAC: VTEPMAC(t.Name, n.Name),
		Addrs: []netip.Prefix{netip.PrefixFrom(n.PodCIDR.Masked().Addr(), 32)},
		VXLAN: &VXLAN{VNI: nw.VNI, Port: nw.VXLANPort, Local: n.Underlay.Addr(), Dev: NodeUplink},
	})
	for j, o := range l.Nodes {
		if j == i {
			continue
		}
		vtep := o.PodCIDR.Masked().Addr()
		mac := VTEPMAC(t.Name, o.Name)
		n.Neigh = append(n.Neigh, Neigh{Dev: dev, IP: vtep, MAC: mac})
		n.FDB = append(n.FDB, FDB{Dev: dev, MAC: mac, Dst: o.Underlay.Addr()})
		n.Routes = append(n.Routes, Route{Dst: o.PodCIDR.Masked(), Gw: vtep, Dev: dev, Onlink: true})
	}
}

// hostPorts lists the pod's published container ports.
func hostPorts(p *corev1.Pod) []HostPort {
	var out []HostPort
	if p == nil {
		return nil
	}
	for _, c := range p.Spec.Containers {
		for _, cp := range c.Ports {
			if cp.HostPort == 0 {
				continue
			}
			proto := strings.ToLower(string(cp.Protocol))
			if proto == "" {
				proto = "tcp"
			}
			out = append(out, HostPort{HostPort: int(cp.HostPort), ContainerPort: int(cp.ContainerPort), Protocol: proto, HostIP: cp.HostIP})
		}
	}
	return out
}

// networks are a pod's extra networks with their configurations.
func networks(t *topology.Lab, p topology.Pod) []Network {
	var out []Network
	for _, n := range p.Networks {
		for _, a := range t.NetworkAttachments {
			if a.Key() == n.Key() {
				out = append(out, Network{Name: n.Key(), Interface: n.Interface, Config: a.Config})
			}
		}
	}
	return out
}
