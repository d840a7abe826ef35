package topology

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
)

// What `kinn up -f FILE` does to a running lab, before it does it: the
// difference between the lab's desired state (its recorded topology, with
// every apply, scale and delete since) and the file's, both resolved with
// the lab's live placement, as kubectl diff shows it before an apply with
// --prune. The caller asks before anything destructive.

// Op says what a change does: adds, changes or removes.
type Op byte

// The ops, spelt as diff spells them.
const (
	Added   Op = '+'
	Changed Op = '~'
	Removed Op = '-'
)

// The kinds a Change names besides the Kubernetes objects' own.
const (
	KindNode    = "Node"
	KindSetting = "Setting" // a field of the cluster document
)

// Change is one difference between two resolved topologies.
type Change struct {
	Op     Op
	Kind   string // Node, Namespace, Service, Deployment, DaemonSet, Pod, or Setting
	Name   string // namespace/name for namespaced objects; the field for a setting
	Detail string // what changes, e.g. "replicas 3 -> 1"
	// Destroys says that it takes away something running: a removed pod,
	// node, namespace or object, a pod recreated on another node, or a
	// network setting (addresses, links and pods are rebuilt).
	Destroys bool
}

func (c Change) String() string {
	s := fmt.Sprintf("%c %s %s", c.Op, c.Kind, c.Name)
	if c.Kind == KindSetting {
		s = fmt.Sprintf("%c %s", c.Op, c.Name)
	}
	if c.Detail != "" {
		s += ": " + c.Detail
	}
	return s
}

// Changes are the differences between two topologies, in a stable order:
// settings, nodes, namespaces, Services, workloads, then pods.
type Changes []Change

// Destructive reports whether any change takes away something running.
func (cs Changes) Destructive() bool {
	return slices.ContainsFunc(cs, func(c Change) bool { return c.Destroys })
}

// Diff lists what going from one resolved topology to the other changes.
// Both should be resolved with the same live placement, so that a pod
// that stays where it runs is no change.
func Diff(from, to *Lab) Changes {
	var cs Changes
	cs = append(cs, diffSettings(from, to)...)
	cs = append(cs, diffNodes(from.Nodes, to.Nodes)...)
	cs = append(cs, diffNames("Namespace", from.Namespaces, to.Namespaces)...)
	cs = append(cs, diffObjects("Service", byKey(from.Services), byKey(to.Services), nil)...)
	cs = append(cs, diffObjects("EndpointSlice", byKey(from.EndpointSlices), byKey(to.EndpointSlices), nil)...)
	cs = append(cs, diffObjects("NetworkPolicy", byKey(from.NetworkPolicies), byKey(to.NetworkPolicies), nil)...)
	cs = append(cs, diffObjects("Deployment", byKey(from.Deployments), byKey(to.Deployments), replicasDetail)...)
	cs = append(cs, diffObjects("DaemonSet", byKey(from.DaemonSets), byKey(to.DaemonSets), nil)...)
	cs = append(cs, diffPods(from.Pods, to.Pods)...)
	return cs
}

// diffSettings compares the cluster document: every networking field, and
// the plugin chain as a whole.
func diffSettings(from, to *Lab) Changes {
	var cs Changes
	setting := func(name string, a, b any) {
		if a != b {
			cs = append(cs, Change{Op: Changed, Kind: KindSetting, Name: name, Detail: fmt.Sprintf("%v -> %v", a, b), Destroys: true})
		}
	}
	a, b := from.Networking, to.Networking
	setting("networking.podSubnet", a.PodSubnet, b.PodSubnet)
	setting("networking.serviceSubnet", a.ServiceSubnet, b.ServiceSubnet)
	setting("networking.nodeSubnet", a.NodeSubnet, b.NodeSubnet)
	setting("networking.nodeCIDRMaskSize", a.NodeCIDRMaskSize, b.NodeCIDRMaskSize)
	setting("networking.overlay", a.Overlay, b.Overlay)
	setting("networking.vni", a.VNI, b.VNI)
	setting("networking.vxlanPort", a.VXLANPort, b.VXLANPort)
	setting("networking.mtu", a.MTU, b.MTU)
	setting("networking.kubeProxyMode", orDefault(a.KubeProxyMode), orDefault(b.KubeProxyMode))
	setting("networking.disableDefaultCNI", a.DisableDefaultCNI, b.DisableDefaultCNI)
	setting("networking.dnsDomain", a.DNSDomain, b.DNSDomain)
	setting("networking.nodePortAddresses", fmt.Sprint(a.NodePortAddresses), fmt.Sprint(b.NodePortAddresses))
	if la, lb := from.LoadBalancer.String(), to.LoadBalancer.String(); la != lb {
		// Services outside the new pool get new addresses; nothing is torn down.
		cs = append(cs, Change{Op: Changed, Kind: KindSetting, Name: "loadBalancer", Detail: la + " -> " + lb})
	}
	switch ca, cb := from.CNI, to.CNI; {
	case ca == nil && cb != nil:
		cs = append(cs, Change{Op: Added, Kind: KindSetting, Name: "cni", Detail: "pods move to the file's plugin chain", Destroys: true})
	case ca != nil && cb == nil:
		cs = append(cs, Change{Op: Removed, Kind: KindSetting, Name: "cni", Detail: "pods move to kinn's own plugin", Destroys: true})
	case ca != nil && (ca.ConfList != cb.ConfList || ca.BinDir != cb.BinDir || ca.Dir != cb.Dir):
		cs = append(cs, Change{Op: Changed, Kind: KindSetting, Name: "cni", Detail: "another plugin chain", Destroys: true})
	}
	return cs
}

func orDefault(s string) string {
	if s == "" {
		return "<default>"
	}
	return s
}

// diffNodes compares nodes by name; a node whose role or labels change
// stays (its pods' placement says the rest).
func diffNodes(from, to []Node) Changes {
	a, b := map[string]Node{}, map[string]Node{}
	for _, n := range from {
		a[n.Name] = n
	}
	for _, n := range to {
		b[n.Name] = n
	}
	var cs Changes
	for _, name := range unionKeys(a, b) {
		na, inA := a[name]
		nb, inB := b[name]
		switch {
		case !inA:
			cs = append(cs, Change{Op: Added, Kind: KindNode, Name: name, Detail: string(nb.Role)})
		case !inB:
			cs = append(cs, Change{Op: Removed, Kind: KindNode, Name: name, Detail: "its pods go with it", Destroys: true})
		case na.Role != nb.Role || !maps.Equal(na.Labels, nb.Labels):
			cs = append(cs, Change{Op: Changed, Kind: KindNode, Name: name, Detail: "role or labels"})
		}
	}
	return cs
}

// diffNames compares two sets of names of one kind.
func diffNames(kind string, from, to []string) Changes {
	var cs Changes
	for _, n := range from {
		if !slices.Contains(to, n) {
			cs = append(cs, Change{Op: Removed, Kind: kind, Name: n, Destroys: true})
		}
	}
	for _, n := range to {
		if !slices.Contains(from, n) {
			cs = append(cs, Change{Op: Added, Kind: kind, Name: n})
		}
	}
	slices.SortStableFunc(cs, func(x, y Change) int { return cmp.Compare(x.Name, y.Name) })
	return cs
}

// byKey indexes objects by namespace/name.
func byKey[T interface {
	GetNamespace() string
	GetName() string
}](objs []T) map[string]T {
	out := map[string]T{}
	for _, o := range objs {
		out[o.GetNamespace()+"/"+o.GetName()] = o
	}
	return out
}

// diffObjects compares objects of one kind by namespace/name; detail, when
// given, says what changed in an object that did.
func diffObjects[T any](kind string, from, to map[string]T, detail func(a, b T) string) Changes {
	var cs Changes
	for _, key := range unionKeys(from, to) {
		a, inA := from[key]
		b, inB := to[key]
		switch {
		case !inA:
			cs = append(cs, Change{Op: Added, Kind: kind, Name: key})
		case !inB:
			cs = append(cs, Change{Op: Removed, Kind: kind, Name: key, Destroys: true})
		case !equality.Semantic.DeepEqual(a, b):
			c := Change{Op: Changed, Kind: kind, Name: key}
			if detail != nil {
				c.Detail = detail(a, b)
			}
			cs = append(cs, c)
		}
	}
	return cs
}

// replicasDetail names a Deployment's change when only its replicas do
// (its pods show the rest).
func replicasDetail(a, b *appsv1.Deployment) string {
	ra, rb := replicas(a), replicas(b)
	c := b.DeepCopy()
	c.Spec.Replicas = a.Spec.Replicas
	if ra != rb && equality.Semantic.DeepEqual(a, c) {
		return fmt.Sprintf("replicas %d -> %d", ra, rb)
	}
	if ra != rb {
		return fmt.Sprintf("replicas %d -> %d, and its spec", ra, rb)
	}
	return "spec"
}

// diffPods compares every pod, bare or a workload's, by namespace/name. A
// pod that stays on its node and keeps its spec is no change; one that
// changes node is recreated there.
func diffPods(from, to []Pod) Changes {
	a, b := map[string]Pod{}, map[string]Pod{}
	for _, p := range from {
		a[p.Key()] = p
	}
	for _, p := range to {
		b[p.Key()] = p
	}
	var cs Changes
	for _, key := range unionKeys(a, b) {
		pa, inA := a[key]
		pb, inB := b[key]
		switch {
		case !inA:
			cs = append(cs, Change{Op: Added, Kind: "Pod", Name: key, Detail: "on " + pb.Node})
		case !inB:
			cs = append(cs, Change{Op: Removed, Kind: "Pod", Name: key, Detail: "from " + pa.Node, Destroys: true})
		case pa.Node != pb.Node:
			cs = append(cs, Change{Op: Changed, Kind: "Pod", Name: key, Detail: fmt.Sprintf("moves from %s to %s (recreated)", pa.Node, pb.Node), Destroys: true})
		case !samePod(pa.Pod, pb.Pod):
			cs = append(cs, Change{Op: Changed, Kind: "Pod", Name: key, Detail: "spec"})
		}
	}
	return cs
}

func samePod(a, b *corev1.Pod) bool {
	if a == nil || b == nil {
		return a == b
	}
	return equality.Semantic.DeepEqual(a.Spec, b.Spec) && equality.Semantic.DeepEqual(a.ObjectMeta, b.ObjectMeta)
}

// unionKeys are the keys of both maps, sorted.
func unionKeys[V any](a, b map[string]V) []string {
	keys := slices.Collect(maps.Keys(a))
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// Format writes the changes one a line, each indented by indent.
func (cs Changes) Format(indent string) string {
	var b strings.Builder
	for _, c := range cs {
		b.WriteString(indent + c.String() + "\n")
	}
	return b.String()
}
