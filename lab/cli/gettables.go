package cli

// The tables of `kinn get` that are not the Service proxy's (those are in
// lab/service): pure functions from objects to kubectl's columns, without
// AGE (kinn keeps no clock). Readiness comes from the lab process; when it
// did not answer (known false) it is shown as unknown ("?") rather than as
// "not ready", which would be a wrong fact.

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"kinn.dev/kinn/lab"
	"kinn.dev/kinn/lab/service"
)

// unknown is a cell the lab process would have filled.
const unknown = "?"

// podTable is `kubectl get pods`: NAME READY STATUS IP NODE (kubectl's
// RESTARTS and AGE do not exist here), -o wide adds the pod's network
// namespace and, when a pod has extra networks, NETWORKS.
func podTable(pods []corev1.Pod, known, allNamespaces, wide bool) service.Table {
	t := service.Table{Header: []string{"NAME", "READY", "STATUS", "IP", "NODE"}}
	nets := false
	for _, p := range pods {
		nets = nets || lab.NetworksText(p) != ""
	}
	if wide {
		t.Header = append(t.Header, "NETNS", "HOST-IF")
		if nets {
			t.Header = append(t.Header, "NETWORKS")
		}
		t.Header = append(t.Header, "REASON") // why it is not ready: the probe's own error
	}
	for _, p := range pods {
		row := []string{p.Name, podReadyCell(p, known), podStatus(p), cmp.Or(p.Status.PodIP, "<none>"), p.Spec.NodeName}
		if wide {
			row = append(row, cmp.Or(p.Annotations["kinn.dev/netns"], "<none>"), // no sandbox, no namespace
				cmp.Or(p.Annotations[lab.HostInterfaceAnnotation], "<none>"))
			if nets {
				row = append(row, cmp.Or(lab.NetworksText(p), "<none>"))
			}
			row = append(row, cmp.Or(lab.NotReadyReason(p), "<none>"))
		}
		t.Rows = append(t.Rows, row)
	}
	return service.WithNamespace(t, allNamespaces, func(i int) string { return pods[i].Namespace })
}

// podReadyCell is READY: 1/1 or 0/1, "?/1" for a running pod whose
// readiness only the lab process knows and could not say.
func podReadyCell(p corev1.Pod, known bool) string {
	switch {
	case podReady(p):
		return "1/1"
	case !known && p.Status.Phase == corev1.PodRunning:
		return unknown + "/1"
	}
	return "0/1"
}

func podStatus(p corev1.Pod) string {
	switch {
	case p.DeletionTimestamp != nil:
		return "Terminating"
	case p.Status.Reason != "":
		return p.Status.Reason
	}
	return string(p.Status.Phase)
}

// nodeTable is `kubectl get nodes` with kinn's INTERNAL-IP and POD-CIDR
// (kubectl shows VERSION there); -o wide adds the node's namespace.
func nodeTable(nodes []corev1.Node, wide bool) service.Table {
	t := service.Table{Header: []string{"NAME", "STATUS", "ROLES", "INTERNAL-IP", "POD-CIDR"}}
	if wide {
		t.Header = append(t.Header, "NETNS")
	}
	for _, n := range nodes {
		status, role := "NotReady", "<none>"
		if n.Status.Conditions[0].Status == corev1.ConditionTrue {
			status = "Ready"
		}
		if _, ok := n.Labels["node-role.kubernetes.io/control-plane"]; ok {
			role = "control-plane"
		}
		row := []string{n.Name, status, role, n.Status.Addresses[0].Address, n.Spec.PodCIDR}
		if wide {
			row = append(row, n.Annotations["kinn.dev/netns"])
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// namespaceTable is `kubectl get namespaces`: every namespace kinn models
// is Active.
func namespaceTable(nss []corev1.Namespace) service.Table {
	t := service.Table{Header: []string{"NAME", "STATUS"}}
	for _, ns := range nss {
		t.Rows = append(t.Rows, []string{ns.Name, string(ns.Status.Phase)})
	}
	return t
}

// workloadCounts are a workload's pods as its controller counts them.
type workloadCounts struct {
	Pods    int // the pods the controller made (kinn makes them at once)
	Running int // those whose sandbox exists
	Ready   int
}

// deploymentTable is `kubectl get deployments`: READY (ready/desired),
// UP-TO-DATE and AVAILABLE; -o wide adds CONTAINERS, IMAGES and SELECTOR.
// Every pod of a kinn Deployment is of its current template, so UP-TO-DATE
// counts them all; AVAILABLE is READY's count (no minReadySeconds).
func deploymentTable(ds []*appsv1.Deployment, counts []workloadCounts, known, allNamespaces, wide bool) service.Table {
	t := service.Table{Header: []string{"NAME", "READY", "UP-TO-DATE", "AVAILABLE"}}
	if wide {
		t.Header = append(t.Header, "CONTAINERS", "IMAGES", "SELECTOR")
	}
	for i, d := range ds {
		c, want := counts[i], int32(1)
		if d.Spec.Replicas != nil {
			want = *d.Spec.Replicas
		}
		ready := countCell(c.Ready, known)
		row := []string{d.Name, fmt.Sprintf("%s/%d", ready, want), strconv.Itoa(c.Pods), ready}
		if wide {
			row = append(row, containers(d.Spec.Template.Spec), images(d.Spec.Template.Spec), selectorText(d.Spec.Selector))
		}
		t.Rows = append(t.Rows, row)
	}
	return service.WithNamespace(t, allNamespaces, func(i int) string { return ds[i].Namespace })
}

// daemonSetTable is `kubectl get daemonsets`: DESIRED CURRENT READY
// UP-TO-DATE AVAILABLE NODE SELECTOR; -o wide adds CONTAINERS, IMAGES and
// SELECTOR.
func daemonSetTable(ds []*appsv1.DaemonSet, counts []workloadCounts, known, allNamespaces, wide bool) service.Table {
	t := service.Table{Header: []string{"NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE SELECTOR"}}
	if wide {
		t.Header = append(t.Header, "CONTAINERS", "IMAGES", "SELECTOR")
	}
	for i, d := range ds {
		c := counts[i]
		ready := countCell(c.Ready, known)
		row := []string{d.Name, strconv.Itoa(c.Pods), strconv.Itoa(c.Running), ready, strconv.Itoa(c.Pods), ready,
			cmp.Or(labels.FormatLabels(d.Spec.Template.Spec.NodeSelector), "<none>")}
		if wide {
			row = append(row, containers(d.Spec.Template.Spec), images(d.Spec.Template.Spec), selectorText(d.Spec.Selector))
		}
		t.Rows = append(t.Rows, row)
	}
	return service.WithNamespace(t, allNamespaces, func(i int) string { return ds[i].Namespace })
}

func countCell(n int, known bool) string {
	if !known {
		return unknown
	}
	return strconv.Itoa(n)
}

func containers(spec corev1.PodSpec) string {
	var names []string
	for _, c := range spec.Containers {
		names = append(names, c.Name)
	}
	return cmp.Or(strings.Join(names, ","), "<none>")
}

func images(spec corev1.PodSpec) string {
	var names []string
	for _, c := range spec.Containers {
		names = append(names, c.Image)
	}
	return cmp.Or(strings.Join(names, ","), "<none>")
}

// withLabels is --show-labels: a LABELS column last, as kubectl prints it
// (key=value,... sorted, <none> for none).
func withLabels(t service.Table, of func(i int) map[string]string) service.Table {
	t.Header = append(t.Header, "LABELS")
	for i := range t.Rows {
		t.Rows[i] = append(t.Rows[i], cmp.Or(labels.FormatLabels(of(i)), "<none>"))
	}
	return t
}

// selectorText is kubectl's SELECTOR cell of a workload.
func selectorText(sel *metav1.LabelSelector) string { return metav1.FormatLabelSelector(sel) }

func podReady(p corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
