package cli

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"kinn.dev/kinn/lab"
	"kinn.dev/kinn/lab/daemon"
	"kinn.dev/kinn/lab/service"
)

// listing is one get's answer: the table, the identity of each row (for
// --watch), the object -o json|yaml prints, the lines printed under the
// table, and what an empty table says instead.
type listing struct {
	table  service.Table
	keys   []string
	object any
	notes  []string
	empty  string
}

// list builds the listing of a request from the lab's record and the lab
// process's status (nil: it did not answer, readiness unknown).
func list(st *lab.State, status *daemon.Status, r getRequest) (*listing, error) {
	var l *listing
	switch r.kind {
	case "nodes":
		l = listNodes(st, r)
	case "pods":
		l = listPods(st, status, r)
	case "services":
		l = listServices(st, r)
	case "endpointslices":
		l = listSlices(st, status, r)
	case "namespaces":
		l = listNamespaces(st, r)
	case "deployments":
		l = listDeployments(st, status, r)
	case "daemonsets":
		l = listDaemonSets(st, status, r)
	case "networkpolicies":
		l = listNetworkPolicies(st, r)
	}
	if r.one != "" && len(l.keys) == 0 {
		where := ""
		if r.ns != "" && r.kind != "nodes" && r.kind != "namespaces" {
			where = fmt.Sprintf(" in namespace %q", r.ns)
		}
		return nil, &ExitError{Code: 1, Err: fmt.Errorf("%s %q not found%s", singular[r.kind], r.one, where)}
	}
	if l.empty == "" {
		l.empty = "No resources found."
	}
	return l, nil
}

var singular = map[string]string{"nodes": "node", "pods": "pod", "services": "service", "endpointslices": "endpointslice",
	"namespaces": "namespace", "deployments": "deployment", "daemonsets": "daemonset",
	"networkpolicies": "networkpolicy"}

// keep says whether a request lists an object: its namespace, name and
// labels against -n/-A, NAME and -l.
func (r getRequest) keep(ns, name string, l map[string]string) bool {
	return (r.ns == "" || ns == "" || ns == r.ns) && (r.one == "" || name == r.one) && r.sel.Matches(labels.Set(l))
}

// finish adds --show-labels and the row keys to a table of objects.
func (r getRequest) finish(l *listing, metas []metav1.ObjectMeta) *listing {
	if r.showLabels {
		l.table = withLabels(l.table, func(i int) map[string]string { return metas[i].Labels })
	}
	for _, m := range metas {
		l.keys = append(l.keys, m.Namespace+"/"+m.Name)
	}
	return l
}

// single is the object -o json|yaml prints: the one named, else the list.
func single[T any](r getRequest, items []T, list any) any {
	if r.one != "" && len(items) == 1 {
		return items[0]
	}
	return list
}

func listNodes(st *lab.State, r getRequest) *listing {
	var nodes []corev1.Node
	var metas []metav1.ObjectMeta
	for _, n := range st.Nodes() {
		if r.keep("", n.Name, n.Labels) {
			nodes, metas = append(nodes, n), append(metas, n.ObjectMeta)
		}
	}
	l := &listing{table: nodeTable(nodes, r.out == "wide"),
		object: single(r, nodes, corev1.NodeList{TypeMeta: metav1.TypeMeta{Kind: "NodeList", APIVersion: "v1"}, Items: nodes})}
	for _, n := range nodes {
		if c := n.Status.Conditions[0]; c.Status != corev1.ConditionTrue {
			l.notes = append(l.notes, fmt.Sprintf("node %s: %s: %s", n.Name, c.Reason, c.Message))
		}
	}
	return r.finish(l, metas)
}

func listPods(st *lab.State, status *daemon.Status, r getRequest) *listing {
	var pods []corev1.Pod
	var metas []metav1.ObjectMeta
	for _, p := range st.PodsLive(status.Live()) {
		if r.keep(p.Namespace, p.Name, p.Labels) {
			pods, metas = append(pods, p), append(metas, p.ObjectMeta)
		}
	}
	l := &listing{table: podTable(pods, status != nil, r.ns == "", r.out == "wide"),
		object: single(r, pods, corev1.PodList{TypeMeta: metav1.TypeMeta{Kind: "PodList", APIVersion: "v1"}, Items: pods}),
		empty:  fmt.Sprintf("No pods found in namespace %s.", r.ns)}
	if r.ns == "" {
		l.empty = "No pods found."
	}
	for _, p := range pods {
		if p.Status.Message != "" {
			l.notes = append(l.notes, fmt.Sprintf("pod %s/%s: %s: %s", p.Namespace, p.Name, p.Status.Reason, p.Status.Message))
		}
	}
	return r.finish(l, metas)
}

func listServices(st *lab.State, r getRequest) *listing {
	var svcs []*corev1.Service
	var metas []metav1.ObjectMeta
	for _, s := range st.Services {
		if r.keep(s.Namespace, s.Name, s.Labels) {
			svcs, metas = append(svcs, s), append(metas, s.ObjectMeta)
		}
	}
	l := &listing{table: service.ServiceTable(svcs, r.ns == "", r.out == "wide"), object: single(r, svcs, service.ServiceList(svcs))}
	return r.finish(l, metas)
}

// listSlices lists the controller's slices and the user's own. NAME also
// finds a Service's slices by the Service's name, as kinn always did.
func listSlices(st *lab.State, status *daemon.Status, r getRequest) *listing {
	var svcs []*corev1.Service
	for _, s := range st.Services {
		if r.ns == "" || s.Namespace == r.ns {
			svcs = append(svcs, s)
		}
	}
	var user []*discoveryv1.EndpointSlice
	for _, s := range st.Topology.EndpointSlices {
		if r.ns == "" || s.Namespace == r.ns {
			user = append(user, s)
		}
	}
	var items []discoveryv1.EndpointSlice
	var metas []metav1.ObjectMeta
	byName := r
	byName.one = ""
	for _, s := range service.WithUserSlices(service.EndpointSlices(svcs, st.PodStates(status.Readiness())), user) {
		if byName.keep(s.Namespace, s.Name, s.Labels) && (r.one == "" || s.Name == r.one || s.Labels[discoveryv1.LabelServiceName] == r.one) {
			items, metas = append(items, s), append(metas, s.ObjectMeta)
		}
	}
	l := &listing{table: service.EndpointSliceTable(items, r.ns == "", r.out == "wide", status != nil),
		object: single(r, items, service.EndpointSliceList(items))}
	return r.finish(l, metas)
}

// listNamespaces lists the lab's namespaces with the label the API server
// gives every namespace, kubernetes.io/metadata.name.
func listNamespaces(st *lab.State, r getRequest) *listing {
	var nss []corev1.Namespace
	var metas []metav1.ObjectMeta
	for _, name := range st.Topology.Namespaces {
		ns := corev1.Namespace{TypeMeta: metav1.TypeMeta{Kind: "Namespace", APIVersion: "v1"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: namespaceLabels(st, name)},
			Status:     corev1.NamespaceStatus{Phase: corev1.NamespaceActive}}
		if r.keep("", name, ns.Labels) {
			nss, metas = append(nss, ns), append(metas, ns.ObjectMeta)
		}
	}
	l := &listing{table: namespaceTable(nss), object: single(r, nss, corev1.NamespaceList{TypeMeta: metav1.TypeMeta{Kind: "NamespaceList", APIVersion: "v1"}, Items: nss})}
	return r.finish(l, metas)
}

// ownedCounts counts each workload's pods (by "Kind/name" in a namespace)
// as its controller would: made, running, ready.
func ownedCounts(st *lab.State, status *daemon.Status) map[string]workloadCounts {
	pods := map[string]corev1.Pod{}
	for _, p := range st.Pods(status.Readiness()) {
		pods[p.Namespace+"/"+p.Name] = p
	}
	out := map[string]workloadCounts{}
	for _, tp := range st.Topology.Pods {
		if tp.Owner == "" {
			continue
		}
		k := tp.Namespace + "/" + tp.Owner
		c := out[k]
		c.Pods++
		if p, ok := pods[tp.Key()]; ok && p.Status.Phase == corev1.PodRunning {
			c.Running++
			if podReady(p) {
				c.Ready++
			}
		}
		out[k] = c
	}
	return out
}

func listDeployments(st *lab.State, status *daemon.Status, r getRequest) *listing {
	counts := ownedCounts(st, status)
	var ds []*appsv1.Deployment
	var cs []workloadCounts
	var metas []metav1.ObjectMeta
	for _, d := range st.Topology.Deployments {
		if r.keep(d.Namespace, d.Name, d.Labels) {
			c := counts[d.Namespace+"/Deployment/"+d.Name]
			d = d.DeepCopy()
			d.TypeMeta = metav1.TypeMeta{Kind: "Deployment", APIVersion: "apps/v1"}
			d.Status = appsv1.DeploymentStatus{Replicas: int32(c.Pods), UpdatedReplicas: int32(c.Pods), ReadyReplicas: int32(c.Ready), AvailableReplicas: int32(c.Ready)}
			ds, cs, metas = append(ds, d), append(cs, c), append(metas, d.ObjectMeta)
		}
	}
	l := &listing{table: deploymentTable(ds, cs, status != nil, r.ns == "", r.out == "wide"),
		object: single(r, ds, appsv1.DeploymentList{TypeMeta: metav1.TypeMeta{Kind: "DeploymentList", APIVersion: "apps/v1"}, Items: derefs(ds)})}
	return r.finish(l, metas)
}

func listDaemonSets(st *lab.State, status *daemon.Status, r getRequest) *listing {
	counts := ownedCounts(st, status)
	var ds []*appsv1.DaemonSet
	var cs []workloadCounts
	var metas []metav1.ObjectMeta
	for _, d := range st.Topology.DaemonSets {
		if r.keep(d.Namespace, d.Name, d.Labels) {
			c := counts[d.Namespace+"/DaemonSet/"+d.Name]
			d = d.DeepCopy()
			d.TypeMeta = metav1.TypeMeta{Kind: "DaemonSet", APIVersion: "apps/v1"}
			d.Status = appsv1.DaemonSetStatus{DesiredNumberScheduled: int32(c.Pods), CurrentNumberScheduled: int32(c.Running),
				NumberReady: int32(c.Ready), UpdatedNumberScheduled: int32(c.Pods), NumberAvailable: int32(c.Ready)}
			ds, cs, metas = append(ds, d), append(cs, c), append(metas, d.ObjectMeta)
		}
	}
	l := &listing{table: daemonSetTable(ds, cs, status != nil, r.ns == "", r.out == "wide"),
		object: single(r, ds, appsv1.DaemonSetList{TypeMeta: metav1.TypeMeta{Kind: "DaemonSetList", APIVersion: "apps/v1"}, Items: derefs(ds)})}
	return r.finish(l, metas)
}

func derefs[T any](ps []*T) []T {
	out := make([]T, 0, len(ps))
	for _, p := range ps {
		out = append(out, *p)
	}
	return out
}
