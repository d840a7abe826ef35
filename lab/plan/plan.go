// Package plan computes, as plain data, the kernel state a lab needs — its
// namespaces, links, addresses, routes, neighbours and FDB entries — and
// diffs it against what was observed. Nothing here touches the kernel: the
// desired state is a pure function of the resolved topology and the address
// allocations, and the diff is a pure function of desired and observed state.
//
// The overlay follows flannel's vxlan backend (flannel-io/flannel
// pkg/backend/vxlan): every node has one VXLAN device with learning off whose
// address is its pod CIDR's network address as a /32. For every other node it
// holds, in this order, a permanent neighbour (remote CIDR's .0 -> remote VTEP
// MAC), an FDB entry (remote VTEP MAC -> remote underlay IP) and an onlink
// route (remote CIDR via remote .0). Nothing is learned, so a wrong or missing
// entry breaks exactly the traffic it should carry. With host-gw there is no
// device: each remote pod CIDR is routed via the remote node's underlay IP.
package plan

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
)

// Names of the devices kinn creates; learners see them in `ip link`.
const (
	SwitchBridge = "br0"  // the underlay switch, in the switch namespace
	NodeUplink   = "eth0" // a node's leg on the underlay
	PodBridge    = "cni0" // the node's pod bridge
	PodIface     = "eth0"
)

// Lab is the whole desired state of one lab.
type Lab struct {
	Name   string
	Switch Switch
	Nodes  []Node
	Pods   []Pod
	// Chain is set when the user's CNI plugin chain attaches the pods: the
	// nodes then have no pod bridge of kinn's, and a pod's address is
	// whatever the chain's ADD result said.
	Chain bool `json:",omitempty"`
}

// Switch is the namespace standing for the network between the nodes and for
// the world outside the cluster.
type Switch struct {
	Netns string
	Addr  netip.Prefix // the nodeSubnet's first address, on br0
	MAC   string
	MTU   int
	Ports []Port
	// Owner names the lab's record (its state directory) on the switch's
	// bridge, as its alias: namespace names are machine-wide, so the same
	// lab name under another --state-dir must not take these over.
	Owner string `json:",omitempty"`
}

// Port is one node's veth into the switch: Name in the switch namespace,
// peer NodeUplink in the node's namespace.
type Port struct {
	Name  string
	Node  string
	Netns string // the node's namespace
}

// Node is the desired state of one node's namespace.
type Node struct {
	Name     string
	Netns    string
	Underlay netip.Prefix // on NodeUplink
	PodCIDR  netip.Prefix
	Gateway  netip.Prefix // on PodBridge
	PodMTU   int          // MTU of the pod bridge and pod interfaces
	Sysctls  []Sysctl
	Links    []Link
	Neigh    []Neigh
	FDB      []FDB
	Routes   []Route
	// NetworkNotReady is why the node's network is not ready, in the
	// kubelet's words: its plugin chain's STATUS failed at the last up
	// (then no pod is attached there). Observed, not desired state.
	NetworkNotReady string `json:",omitempty"`
}

// Sysctl is a value under /proc/sys, written inside the node's namespace.
type Sysctl struct{ Key, Value string }

// LinkKind is the kind of a link kinn manages inside a node.
type LinkKind string

const (
	KindBridge LinkKind = "bridge"
	KindVXLAN  LinkKind = "vxlan"
	KindVeth   LinkKind = "veth"
	KindLoop   LinkKind = "loopback" // only brought up; MTU 0 means "leave it"
)

// Link is a device in a node namespace with its addresses.
type Link struct {
	Name  string
	Kind  LinkKind
	MTU   int
	MAC   string // only set where kinn chooses it (VTEPs)
	Addrs []netip.Prefix
	VXLAN *VXLAN
}

// VXLAN holds a VTEP's parameters.
type VXLAN struct {
	VNI   uint32
	Port  uint16
	Local netip.Addr // the node's underlay address
	Dev   string     // underlay device
}

// Neigh is a permanent neighbour entry.
type Neigh struct {
	Dev string
	IP  netip.Addr
	MAC string
}

// FDB is a permanent AF_BRIDGE NTF_SELF entry on a VXLAN device.
type FDB struct {
	Dev string
	MAC string
	Dst netip.Addr
}

// Route is a route in the main table that kinn manages (connected routes the
// kernel adds for addresses are not listed).
type Route struct {
	Dst    netip.Prefix
	Gw     netip.Addr
	Dev    string
	Onlink bool
}

func (r Route) String() string {
	s := fmt.Sprintf("%s via %s dev %s", r.Dst, r.Gw, r.Dev)
	if r.Onlink {
		s += " onlink"
	}
	return s
}

// Pod is the desired state of one pod's network, attached through CNI.
type Pod struct {
	Namespace, Name string
	Node            string
	NodeNetns       string
	Netns           string
	ContainerID     string
	// Want is the address kinn's IPAM chose, offered to the plugins through
	// the `ips` capability. IP and Gateway are what the pod has: Want and
	// the node's gateway with kinn's plugin; with a plugin chain, what its
	// last ADD result said (invalid until it succeeded).
	Want     netip.Prefix
	IP       netip.Prefix
	Gateway  netip.Addr
	MTU      int
	HostVeth string     `json:",omitempty"` // the pod's veth in the node; "" when the chain names it
	HostLink string     `json:",omitempty"` // the pod's link in the node as its ADD result names it
	Ports    []HostPort `json:",omitempty"` // containers' hostPorts, for the portMappings capability
	Error    string     `json:",omitempty"` // why the last ADD failed
	// Networks are the pod's extra networks (Multus's annotation), attached
	// after the default one, each by its own configuration.
	Networks []Network `json:",omitempty"`
	// What else a runtime hands the plugins for the pod: its annotations
	// (bandwidth, extra CNI_ARGS and the pod-annotations capability) and
	// its resolv.conf values (the dns capability), recorded so that DEL
	// gets what ADD got, as containerd keeps the sandbox's config.
	Annotations map[string]string `json:",omitempty"`
	DNS         *DNS              `json:",omitempty"`
}

// Network is one extra network of a pod: the NetworkAttachmentDefinition
// (namespace/name), its CNI configuration, the interface in the pod, and
// what its last ADD gave.
type Network struct {
	Name      string
	Interface string
	Config    string
	IPs       []netip.Prefix `json:",omitempty"`
	MAC       string         `json:",omitempty"`
}

// DNS is what the kubelet puts in a pod's resolv.conf, as CRI's DNSConfig
// carries it to the runtime.
type DNS struct {
	Servers  []string `json:"servers,omitempty"`
	Searches []string `json:"searches,omitempty"`
	Options  []string `json:"options,omitempty"`
}

// HostPort is one container port published on the node, as the CNI
// portMappings capability carries it.
type HostPort struct {
	HostPort      int    `json:"hostPort"`
	ContainerPort int    `json:"containerPort"`
	Protocol      string `json:"protocol"`
	HostIP        string `json:"hostIP,omitempty"`
}

// Attached reports whether the pod has an address from a successful ADD.
func (p Pod) Attached() bool { return p.Error == "" && p.IP.IsValid() }

// Key is namespace/name.
func (p Pod) Key() string { return p.Namespace + "/" + p.Name }

// Kernel limits on the names kinn derives. A name that would be longer is
// shortened (see Shorten) rather than refused: Kubernetes allows pod names
// of 253 characters, and kinn must be able to create, and remove, whatever
// a valid topology asks for.
const (
	MaxFileName = 255 // NAME_MAX: a namespace under /run/netns, a directory
	MaxIfName   = 15  // IFNAMSIZ with its NUL
)

// Shorten returns name if it has at most max bytes, else a name of exactly
// max bytes: as much of name as fits, then "+" and 20 hex digits of the
// SHA-256 of the whole name. Derived names are made of what Kubernetes
// names and IPs may contain and kinn's separators ('.', '-', '_', '/', ':'),
// never '+', so a shortened name cannot equal one that was not shortened,
// and two shortened names differ unless 80 bits of their hashes collide.
// The start of the name is kept so that prefixes (a lab's namespaces) and
// most of what a reader looks for survive.
func Shorten(name string, max int) string {
	if len(name) <= max {
		return name
	}
	h := sha256.Sum256([]byte(name))
	tag := "+" + hex.EncodeToString(h[:10])
	return name[:max-len(tag)] + tag
}

// NetnsPrefix is the prefix of every namespace of a lab. Lab names are DNS
// labels without dots, so "kinn.a." never matches lab "a-b".
func NetnsPrefix(lab string) string { return "kinn." + lab + "." }

// SwitchNetns, NodeNetns and PodNetns name a lab's namespaces under /run/netns.
// Lab and node names are short enough (topology.CheckLabName) for the
// switch's and nodes' names to fit as they are; a pod's name, up to 253
// characters in a namespace of up to 63, may not, and is shortened within
// the lab's prefix so that `down` still finds it.
func SwitchNetns(lab string) string     { return NetnsPrefix(lab) + "switch" }
func NodeNetns(lab, node string) string { return NetnsPrefix(lab) + "node." + node }
func PodNetns(lab, ns, pod string) string {
	return Shorten(NetnsPrefix(lab)+"pod."+ns+"."+pod, MaxFileName)
}

// PodDirName names a pod's directory (its resolv.conf and hosts files):
// <namespace>_<name>, shortened to a file name's limit.
func PodDirName(ns, pod string) string { return Shorten(ns+"_"+pod, MaxFileName) }

// VTEPName is the VXLAN device's name, after the VNI as flannel does.
func VTEPName(vni uint32) string { return fmt.Sprintf("vxlan.%d", vni) }

// VTEPMAC derives a stable, locally administered unicast MAC for a node's
// VTEP, so that the plan stays a pure function (flannel keeps a random one in
// a node annotation instead).
func VTEPMAC(lab, node string) string { return StableMAC(lab + "/" + node) }

// StableMAC derives a locally administered unicast MAC from a name. kinn
// gives every device whose address others cache a stable MAC: a recreated
// node or bridge then keeps its MAC, and the neighbours' ARP caches stay
// right instead of blackholing traffic until they time out. A bridge with an
// explicit MAC also stops taking the lowest MAC of its ports.
func StableMAC(name string) string {
	h := sha256.Sum256([]byte(name))
	h[0] = h[0]&0xfe | 0x02
	return net.HardwareAddr(h[:6]).String()
}

// UplinkMAC is a node's eth0 MAC.
func UplinkMAC(lab, node string) string { return StableMAC(lab + "/" + node + "/eth0") }

// PodMAC is a pod interface's MAC derived from its address, 0a:58 followed by
// the IPv4 address, as OVN-Kubernetes does: a re-attached pod keeps its MAC.
func PodMAC(ip netip.Addr) string {
	b := ip.As4()
	return net.HardwareAddr{0x0a, 0x58, b[0], b[1], b[2], b[3]}.String()
}

// PortName names a node's veth in the switch namespace; interface names are
// limited to 15 bytes, so it is a hash, and the node name goes in its alias.
func PortName(node string) string { return "sw-" + hash8(node) }

// ContainerID is the pod's stable CNI container ID.
func ContainerID(lab, ns, pod string) string {
	h := sha256.Sum256([]byte(lab + "/" + ns + "/" + pod))
	return fmt.Sprintf("kinn-%x", h[:16])
}

// HostInterface is the pod's link in the node: kinn's veth, or what the
// chain's ADD result named; "" when there is none (macvlan, ipvlan).
func (p Pod) HostInterface() string { return cmp.Or(p.HostLink, p.HostVeth) }

// HostVeth names a pod's veth in the node namespace (15 bytes at most).
func HostVeth(containerID string) string { return "veth" + hash8(containerID) }

func hash8(s string) string {
	h := sha256.Sum256([]byte(s))
	return fmt.Sprintf("%x", h[:4])
}
