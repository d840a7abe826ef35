package cli

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"kinn.dev/kinn/lab/plan"
	"kinn.dev/kinn/lab/service"
)

func runningPod(name string, ready bool, l map[string]string) corev1.Pod {
	cond := corev1.ConditionFalse
	if ready {
		cond = corev1.ConditionTrue
	}
	return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: l},
		Spec: corev1.PodSpec{NodeName: "kinn-worker"},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.244.1.2",
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: cond}}}}
}

// TestPodTableUnknown: without the lab process a running pod's READY is
// unknown, never 0/1; a pending pod is not ready either way.
func TestPodTableUnknown(t *testing.T) {
	t.Parallel()
	pending := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default"}, Status: corev1.PodStatus{Phase: corev1.PodPending}}
	pods := []corev1.Pod{runningPod("a", false, nil), pending}
	for _, c := range []struct {
		known bool
		want  [][]string
	}{
		{true, [][]string{{"a", "0/1", "Running", "10.244.1.2", "kinn-worker"}, {"p", "0/1", "Pending", "<none>", ""}}},
		{false, [][]string{{"a", "?/1", "Running", "10.244.1.2", "kinn-worker"}, {"p", "0/1", "Pending", "<none>", ""}}},
	} {
		if got := podTable(pods, c.known, false, false).Rows; !reflect.DeepEqual(got, c.want) {
			t.Errorf("known=%v: rows %v, want %v", c.known, got, c.want)
		}
	}
}

// TestWorkloadTables: kubectl's columns of deployments and daemonsets, the
// namespace first with -A, LABELS last with --show-labels.
func TestWorkloadTables(t *testing.T) {
	t.Parallel()
	three := int32(3)
	spec := corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "agnhost"}}}}
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", Labels: map[string]string{"tier": "front"}},
		Spec: appsv1.DeploymentSpec{Replicas: &three, Selector: sel, Template: spec}}
	counts := []workloadCounts{{Pods: 3, Running: 3, Ready: 2}}
	got := withLabels(deploymentTable([]*appsv1.Deployment{d}, counts, true, true, true), func(int) map[string]string { return d.Labels })
	want := service.Table{Header: []string{"NAMESPACE", "NAME", "READY", "UP-TO-DATE", "AVAILABLE", "CONTAINERS", "IMAGES", "SELECTOR", "LABELS"},
		Rows: [][]string{{"shop", "web", "2/3", "3", "2", "web", "agnhost", "app=web", "tier=front"}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("deployments:\n%v\nwant\n%v", got, want)
	}
	if r := deploymentTable([]*appsv1.Deployment{d}, counts, false, false, false).Rows[0]; !reflect.DeepEqual(r, []string{"web", "?/3", "3", "?"}) {
		t.Errorf("deployment without the lab process: %v", r)
	}
	spec.Spec.NodeSelector = map[string]string{"kubernetes.io/os": "linux"}
	ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "kube-system"}, Spec: appsv1.DaemonSetSpec{Selector: sel, Template: spec}}
	got = daemonSetTable([]*appsv1.DaemonSet{ds}, []workloadCounts{{Pods: 3, Running: 2, Ready: 1}}, true, false, false)
	want = service.Table{Header: []string{"NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE SELECTOR"},
		Rows: [][]string{{"agent", "3", "2", "1", "3", "1", "kubernetes.io/os=linux"}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("daemonsets:\n%v\nwant\n%v", got, want)
	}
}

// TestSelectorKeep: kubectl's equality and set-based selectors, as -l
// parses them, against an object's labels.
func TestSelectorKeep(t *testing.T) {
	t.Parallel()
	l := map[string]string{"app": "web", "tier": "front"}
	for sel, want := range map[string]bool{
		"": true, "app=web": true, "app==web": true, "app!=web": false, "app in (x,web)": true, "app notin (web)": false,
		"tier": true, "!tier": false, "!missing": true, "app=web,tier=back": false, "app=web,tier in (front)": true,
	} {
		s, err := labels.Parse(sel)
		if err != nil {
			t.Fatalf("%q: %v", sel, err)
		}
		if got := (getRequest{sel: s}).keep("default", "x", l); got != want {
			t.Errorf("-l %q on %v = %v, want %v", sel, l, got, want)
		}
	}
}

// TestTryLines: the up summary names the lab only when needed and lists
// the lab's own pods in their namespace.
func TestTryLines(t *testing.T) {
	t.Parallel()
	pod := func(ns, name, ip string) plan.Pod {
		p := plan.Pod{Namespace: ns, Name: name}
		p.IP = netip.MustParsePrefix(ip)
		return p
	}
	p := &plan.Lab{Name: "shop", Nodes: []plan.Node{{Name: "shop-control-plane"}},
		Pods: []plan.Pod{pod("kube-system", "coredns-1", "10.244.0.2/24"), pod("class", "a", "10.244.1.2/24"), pod("class", "b", "10.244.2.2/24")}}
	got := strings.Join(tryLines(p, false), "\n")
	want := "kinn get pods -o wide -n class\nkinn exec -n class a -- ping -c 3 10.244.2.2\nkinn exec node/shop-control-plane -- ip route\nkinn down"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if got := tryLines(p, true)[0]; got != "kinn get pods -o wide --name shop -n class" {
		t.Errorf("with the name: %q", got)
	}
}
