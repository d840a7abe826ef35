package tui

import (
	"net/netip"
	"strconv"
	"strings"
)

// names turns the addresses conntrack shows into what the lab calls them:
// pods, Services (ClusterIPs, external and load-balancer IPs, NodePorts)
// and nodes (their uplink and their bridge, where the kubelet's probes
// come from). It is built once per snapshot: the Flows screen asks it for
// every row every second.
type names struct {
	snap      *Snapshot
	byAddr    map[netip.Addr]addrName
	nodePorts map[uint16]string // NodePort -> Service name
}

type addrName struct {
	name string // "web-1", "kube-system/coredns-x", "web", "kinn-worker"
	kind byte   // 'p' pod, 's' Service, 'n' node, 'g' node's bridge
	node string // the pod's node, or the node itself
}

// shortName leaves out the default namespace, which goes without saying.
func shortName(ns, name string) string {
	if ns == "default" {
		return name
	}
	return ns + "/" + name
}

// names returns the resolver for the current snapshot.
func (sh *shared) names() *names {
	if sh.nm != nil && sh.nm.snap == sh.snap {
		return sh.nm
	}
	nm := &names{snap: sh.snap, byAddr: map[netip.Addr]addrName{}, nodePorts: map[uint16]string{}}
	sh.nm = nm
	if sh.snap == nil {
		return nm
	}
	add := func(ip string, n addrName) {
		if a, err := netip.ParseAddr(ip); err == nil {
			nm.byAddr[a] = n
		}
	}
	for _, n := range sh.snap.Nodes {
		add(n.IP, addrName{name: n.Name, kind: 'n', node: n.Name})
		add(n.Gateway, addrName{name: n.Name, kind: 'g', node: n.Name})
	}
	for _, p := range sh.snap.Pods {
		add(p.IP, addrName{name: shortName(p.Namespace, p.Name), kind: 'p', node: p.Node})
	}
	for _, s := range sh.snap.Services {
		n := addrName{name: shortName(s.Namespace, s.Name), kind: 's'}
		add(s.ClusterIP, n)
		for _, ip := range s.ExternalIPs {
			add(ip, n)
		}
		for _, p := range s.Ports {
			// "80:30080/TCP": the NodePort is after the colon.
			if _, np, ok := strings.Cut(strings.Split(p, "/")[0], ":"); ok {
				if v, err := strconv.ParseUint(np, 10, 16); err == nil {
					nm.nodePorts[uint16(v)] = n.name
				}
			}
		}
	}
	return nm
}

// lookup is what the lab calls ap's address, if anything.
func (nm *names) lookup(ap string) (netip.AddrPort, addrName, bool) {
	a, err := netip.ParseAddrPort(ap)
	if err != nil {
		return a, addrName{}, false
	}
	n, ok := nm.byAddr[a.Addr()]
	return a, n, ok
}

// of is "name:port" for an address the lab knows, else the address; no
// port for protocols without ports (IGMP, ICMP).
func (nm *names) of(ap string) string {
	a, n, ok := nm.lookup(ap)
	switch {
	case !ok && a.IsValid() && a.Port() == 0:
		return a.Addr().String()
	case !ok:
		return ap
	case a.Port() == 0:
		return n.name
	}
	return n.name + ":" + strconv.Itoa(int(a.Port()))
}

// service is the destination as the client addressed it: the Service's
// name and port, a NodePort as "web via kinn-worker:30080", a pod or node
// by name.
func (nm *names) service(f *Flow) string {
	a, n, ok := nm.lookup(f.Service)
	if ok && (n.kind == 'n' || n.kind == 'g') {
		if svc, isNP := nm.nodePorts[a.Port()]; isNP {
			return svc + " via " + n.name + ":" + strconv.Itoa(int(a.Port()))
		}
	}
	if !ok && f.SvcName != "" {
		ns, name, _ := strings.Cut(f.SvcName, "/")
		return shortName(ns, name) + " " + f.Service
	}
	return nm.of(f.Service)
}

// probe is the node whose kubelet probes the flow's pod, if it is one:
// the kubelet probes a pod on its own node from the node's side, not
// through a Service.
func (nm *names) probe(f *Flow) (string, bool) {
	_, c, ok := nm.lookup(f.Client)
	if !ok || (c.kind != 'g' && c.kind != 'n') || f.Endpoint != "" {
		return "", false
	}
	if _, d, ok := nm.lookup(f.Service); ok && d.kind == 'p' && d.node == c.node {
		return c.node, true
	}
	return "", false
}

// client is the client by name; a probe's is "kubelet@node".
func (nm *names) client(f *Flow) string {
	if node, ok := nm.probe(f); ok {
		return "kubelet@" + node
	}
	return nm.of(f.Client)
}

// note explains a flow the user did not start.
func (nm *names) note(f *Flow) string {
	if node, ok := nm.probe(f); ok {
		return "kubelet probe from " + node
	}
	if a, err := netip.ParseAddrPort(f.Service); err == nil && a.Addr().IsMulticast() {
		return "multicast (the kernel's IGMP reports on the node's bridge)"
	}
	return ""
}
