// Package topology reads kinn's topology files — a multi-document YAML stream
// holding one cluster document (kind's own v1alpha4 format or kinn's
// kinn.dev/v1alpha1 extension of it) and plain Kubernetes objects — validates
// every document at once, and resolves it into a Lab: defaults applied, nodes
// named the way kind names them, workload pods expanded and placed on nodes.
//
// Everything here is pure: no kernel, no clock, no randomness. Addresses are
// not allocated here (see lab/ipam); only their feasibility is checked.
package topology

import (
	"net/netip"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// Overlay says how nodes reach each other's pod CIDRs.
type Overlay string

const (
	OverlayVXLAN  Overlay = "vxlan"   // flannel's vxlan backend: one VTEP per node, static FDB/neighbours
	OverlayHostGW Overlay = "host-gw" // a route per remote pod CIDR via the node's underlay address
	OverlayNone   Overlay = "none"    // nothing between nodes: the CNI chain wires them itself
)

// Role is a node's role, as kind spells it.
type Role string

const (
	RoleControlPlane Role = "control-plane"
	RoleWorker       Role = "worker"
)

// Lab is a resolved topology: everything the engine needs, defaults applied.
type Lab struct {
	Name       string // lab (cluster) name; see CheckLabName
	Source     string // file the topology came from, "<default>" for the embedded one
	Networking Networking
	// LoadBalancer is the pool LoadBalancer Services take addresses from.
	LoadBalancer LoadBalancer
	Nodes        []Node // control planes first, then workers, in file order
	Namespaces   []string
	Pods         []Pod // bare pods and expanded workloads, stable order
	Services     []*corev1.Service
	// EndpointSlices are the user's own slices, which give Services
	// without a selector their endpoints.
	EndpointSlices []*discoveryv1.EndpointSlice
	// Workloads are kept so that later edits (scale, apply) can re-expand them.
	Deployments []*appsv1.Deployment
	DaemonSets  []*appsv1.DaemonSet
	// CNI is the user's plugin chain; nil means kinn's own plugin.
	CNI *CNIConfig
	// NetworkPolicies are defaulted and valid (lab/netpol).
	NetworkPolicies []*networkingv1.NetworkPolicy
	// NamespaceLabels are the labels the file gives its Namespaces; every
	// namespace also carries kubernetes.io/metadata.name (netpol.NameLabel).
	NamespaceLabels map[string]map[string]string
	// NetworkAttachments are the extra networks pods may ask for.
	NetworkAttachments []NetworkAttachment
}

// Networking is the cluster document's networking section, defaults applied.
type Networking struct {
	PodSubnet         netip.Prefix // default 10.244.0.0/16
	ServiceSubnet     netip.Prefix // default 10.96.0.0/16
	NodeSubnet        netip.Prefix // default 172.18.0.0/16 (kinn only)
	NodeCIDRMaskSize  int          // default 24
	Overlay           Overlay      // default vxlan
	VNI               uint32       // default 1
	VXLANPort         uint16       // default 4789
	MTU               int          // underlay MTU, default 1500
	KubeProxyMode     string       // as written; "" means the default (kinn always uses nftables unless "none")
	DisableDefaultCNI bool
	DNSDomain         string // the cluster domain, default cluster.local
	// NodePortAddresses are the networks whose node addresses serve
	// NodePorts; nil means kube-proxy's default "primary": the node's
	// underlay address only. Never 127.0.0.1 either way.
	NodePortAddresses []netip.Prefix
}

// Node is one node of the lab.
type Node struct {
	Name   string
	Role   Role
	Labels map[string]string // includes kubernetes.io/hostname and, for control planes, node-role.kubernetes.io/control-plane
}

// Pod is a pod placed on a node.
type Pod struct {
	Namespace string
	Name      string
	Node      string
	Owner     string      // "Deployment/web", "DaemonSet/x", or "" for a bare Pod
	Pod       *corev1.Pod // the object: name, namespace, labels and spec.nodeName filled in
	// Networks are the extra networks of its k8s.v1.cni.cncf.io/networks
	// annotation, in order.
	Networks []PodNetwork
}

// Key is the pod's namespace/name.
func (p Pod) Key() string { return p.Namespace + "/" + p.Name }
