package netpol

import (
	"cmp"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// NameLabel is the label every namespace carries with its own name, set by
// the API server even on namespaces nobody labelled.
const NameLabel = corev1.LabelMetadataName

// A Namespace is what selectors see of one.
type Namespace struct {
	Name   string
	Labels map[string]string
}

// A Pod is what policies see of one: labels for selectors, the address for
// ipBlocks, container ports for named ports, the node for node-local traffic.
type Pod struct {
	Namespace, Name string
	Labels          map[string]string
	IP              netip.Addr
	Node            string
	Ports           []corev1.ContainerPort
}

func (p *Pod) String() string { return p.Namespace + "/" + p.Name }

// namedPort resolves name on p, as a destination: the number of the
// container port with that name and protocol.
func (p *Pod) namedPort(name string, proto corev1.Protocol) (int32, bool) {
	for _, cp := range p.Ports {
		if cp.Name == name && cmp.Or(cp.Protocol, corev1.ProtocolTCP) == proto {
			return cp.ContainerPort, true
		}
	}
	return 0, false
}

// A Cluster is everything a verdict depends on. Build one with NewCluster.
type Cluster struct {
	pods     []*Pod
	nsLabels map[string]labels.Set
	policies []*Policy // sorted by namespace/name: the kernel's order
}

// NewCluster indexes namespaces, pods and policies. A namespace a pod or
// policy names but the list lacks still gets its name label, as the API
// server gives it.
func NewCluster(namespaces []Namespace, pods []*Pod, policies []*Policy) *Cluster {
	c := &Cluster{pods: pods, nsLabels: make(map[string]labels.Set)}
	for _, ns := range namespaces {
		set := labels.Set{}
		for k, v := range ns.Labels {
			set[k] = v
		}
		set[NameLabel] = ns.Name
		c.nsLabels[ns.Name] = set
	}
	c.policies = slices.Clone(policies)
	slices.SortFunc(c.policies, func(a, b *Policy) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	return c
}

// namespaceLabels returns ns's labels, the implicit name label included.
func (c *Cluster) namespaceLabels(ns string) labels.Set {
	if set, ok := c.nsLabels[ns]; ok {
		return set
	}
	return labels.Set{NameLabel: ns}
}

// Pods returns the cluster's pods, in the order given.
func (c *Cluster) Pods() []*Pod { return c.pods }

// Policies returns the cluster's policies, sorted by namespace/name: the
// order the kernel's chains try them.
func (c *Cluster) Policies() []*Policy { return c.policies }

// Members returns the pods peer selects, for policy p (a lone podSelector
// means p's namespace). An ipBlock selects no pod here: it is addresses.
func (c *Cluster) Members(p *Policy, peer Peer) []*Pod {
	var out []*Pod
	if peer.Block != nil {
		return nil
	}
	for _, pod := range c.pods {
		if c.peerMatches(p, peer, PodEndpoint(pod)) {
			out = append(out, pod)
		}
	}
	return out
}
