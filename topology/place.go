package topology

import (
	"encoding/json"
	"maps"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Placement imitates the scheduler just enough to be predictable: pods are
// placed in file order on the candidate node with the fewest pods so far
// (ties to the first node), which spreads uniform pods round-robin.
// Candidates are the workers (all nodes when there are none), plus the
// control planes if the pod tolerates their taint, filtered by nodeSelector.
// As with kubeadm, control planes are tainted only when there are workers:
// a single-node lab must be able to run pods.

type placer struct {
	lab      *Lab
	r        *report
	tainted  bool           // control planes carry the NoSchedule taint
	count    map[string]int // pods per node
	capacity int            // pods a node CIDR holds; 0 disables the check
	used     map[string]bool
	full     map[string]bool   // "doc line/node" already reported as full
	placed   map[string]string // pod key -> node it already runs on
}

func place(lab *Lab, workloads []object, r *report, live Live) []Pod {
	pl := &placer{
		placed:   live.Placed,
		lab:      lab,
		r:        r,
		count:    make(map[string]int),
		capacity: lab.Networking.podsPerNode(),
		used:     make(map[string]bool),
		full:     make(map[string]bool),
	}
	for _, n := range lab.Nodes {
		pl.tainted = pl.tainted || n.Role == RoleWorker
	}
	// Retired names are never generated again: a deleted workload pod is
	// replaced under a new name.
	for key := range live.Retired {
		pl.used[key] = true
	}
	// Bare pods keep their names: generated names must steer clear of them
	// wherever they appear in the file.
	for _, o := range workloads {
		if pod, ok := o.obj.(*corev1.Pod); ok {
			pl.used[pod.Namespace+"/"+pod.Name] = true
		}
	}
	var pods []Pod
	for _, o := range workloads {
		switch obj := o.obj.(type) {
		case *corev1.Pod:
			pods = append(pods, pl.bare(o.d, obj)...)
		case *appsv1.Deployment:
			pods = append(pods, pl.deployment(o.d, obj)...)
		case *appsv1.DaemonSet:
			pods = append(pods, pl.daemonSet(o.d, obj)...)
		}
	}
	return pods
}

func (pl *placer) bare(d *doc, pod *corev1.Pod) []Pod {
	node, ok := pl.choose(d, path{"spec"}, &pod.Spec, pod.Namespace+"/"+pod.Name, nil)
	if !ok {
		return nil
	}
	pod.Spec.NodeName = node
	return []Pod{{Namespace: pod.Namespace, Name: pod.Name, Node: node, Pod: pod}}
}

func (pl *placer) deployment(d *doc, dep *appsv1.Deployment) []Pod {
	hash := templateHash(&dep.Spec.Template)
	ns := dep.Namespace
	var pods []Pod
	mine := map[string]int{} // this Deployment's pods per node
	for i := 0; i < replicas(dep); i++ {
		name := uniqueName(pl.used, ns, func(attempt int) string {
			return generatedName(dep.Name+"-"+hash+"-", suffix(ns, dep.Name, i, attempt))
		})
		node, ok := pl.choose(d, path{"spec", "template", "spec"}, &dep.Spec.Template.Spec, ns+"/"+name, mine)
		mine[node]++
		if !ok {
			// Reported once for the whole Deployment; stopping also bounds
			// the work a huge replica count can cause.
			return pods
		}
		pod := fromTemplate(&dep.Spec.Template, ns, name, node)
		pod.Labels[appsv1.DefaultDeploymentUniqueLabelKey] = hash
		pods = append(pods, Pod{Namespace: ns, Name: name, Node: node, Owner: "Deployment/" + dep.Name, Pod: pod})
	}
	return pods
}

// replicas bounds the replica count by what a lab could address, so that a
// typo like 3000000000 costs an error, not minutes.
func replicas(dep *appsv1.Deployment) int {
	if dep.Spec.Replicas == nil {
		return 0
	}
	return min(int(*dep.Spec.Replicas), maxPods)
}

func (pl *placer) daemonSet(d *doc, ds *appsv1.DaemonSet) []Pod {
	ns := ds.Namespace
	spec := &ds.Spec.Template.Spec
	var pods []Pod
	for _, n := range pl.lab.Nodes {
		if !pl.eligible(n, spec) {
			continue
		}
		name := uniqueName(pl.used, ns, func(attempt int) string {
			return generatedName(ds.Name+"-", suffix(ns, ds.Name, n.Name, attempt))
		})
		pl.add(d, n.Name)
		pods = append(pods, Pod{Namespace: ns, Name: name, Node: n.Name, Owner: "DaemonSet/" + ds.Name,
			Pod: fromTemplate(&ds.Spec.Template, ns, name, n.Name)})
	}
	if len(pods) == 0 {
		pl.r.warnf(d.at("metadata", "name"), "DaemonSet %s/%s runs on no node", ns, ds.Name)
	}
	return pods
}

// choose picks the node for one pod with the given spec, reporting at the
// field to blame when there is none. Among eligible nodes it takes the one
// with the fewest pods of the same workload (mine), as the scheduler's
// default topology spread over hostnames does, then the least loaded.
func (pl *placer) choose(d *doc, p path, spec *corev1.PodSpec, key string, mine map[string]int) (string, bool) {
	if spec.NodeName != "" {
		for _, n := range pl.lab.Nodes {
			if n.Name == spec.NodeName {
				return n.Name, pl.add(d, n.Name)
			}
		}
		pl.r.errorf(d.at(p.with("nodeName")...), "%s.nodeName %q is not a node of this lab (%s)", p, spec.NodeName, nodeNames(pl.lab.Nodes))
		return "", false
	}
	for _, n := range pl.lab.Nodes {
		if n.Name == pl.placed[key] && pl.eligible(n, spec) {
			return n.Name, pl.add(d, n.Name)
		}
	}
	best := ""
	for _, n := range pl.lab.Nodes {
		if !pl.eligible(n, spec) {
			continue
		}
		if best == "" || mine[n.Name] < mine[best] || mine[n.Name] == mine[best] && pl.count[n.Name] < pl.count[best] {
			best = n.Name
		}
	}
	if best == "" {
		sel, _ := json.Marshal(spec.NodeSelector)
		pl.r.errorf(d.at(p.with("nodeSelector")...), "nodeSelector %s matches no node", sel)
		return "", false
	}
	return best, pl.add(d, best)
}

func (pl *placer) eligible(n Node, spec *corev1.PodSpec) bool {
	if n.Role == RoleControlPlane && pl.tainted && !toleratesControlPlane(spec.Tolerations) {
		return false
	}
	for k, v := range spec.NodeSelector {
		if got, ok := n.Labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// add counts a pod on node. It reports, once per workload and node, and
// returns false if the node's CIDR has no address left for it.
func (pl *placer) add(d *doc, node string) bool {
	pl.count[node]++
	if pl.capacity == 0 || pl.count[node] <= pl.capacity {
		return true // 0: the mask is invalid, which is reported already
	}
	pos := d.at("metadata", "name")
	key := pos.String() + " " + node
	if !pl.full[key] {
		pl.full[key] = true
		pl.r.errorf(pos, "node %s is full: its /%d node CIDR has room for %d pods", node, pl.lab.Networking.NodeCIDRMaskSize, pl.capacity)
	}
	return false
}

// toleratesControlPlane says whether tolerations let a pod onto a control
// plane, i.e. tolerate node-role.kubernetes.io/control-plane:NoSchedule.
func toleratesControlPlane(ts []corev1.Toleration) bool {
	for _, t := range ts {
		if t.Effect != "" && t.Effect != corev1.TaintEffectNoSchedule {
			continue
		}
		switch {
		case t.Key == "" && t.Operator == corev1.TolerationOpExists:
			return true
		case t.Key == controlPlaneTaint && t.Operator == corev1.TolerationOpExists:
			return true
		case t.Key == controlPlaneTaint && t.Value == "" && (t.Operator == "" || t.Operator == corev1.TolerationOpEqual):
			return true
		}
	}
	return false
}

func fromTemplate(t *corev1.PodTemplateSpec, ns, name, node string) *corev1.Pod {
	t = t.DeepCopy()
	labels := maps.Clone(t.Labels)
	if labels == nil {
		labels = make(map[string]string)
	}
	pod := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels, Annotations: t.Annotations},
		Spec:       t.Spec,
	}
	pod.Spec.NodeName = node
	return pod
}

func nodeNames(nodes []Node) string {
	s := ""
	for i, n := range nodes {
		if i > 0 {
			s += ", "
		}
		s += n.Name
	}
	return "nodes: " + s
}
