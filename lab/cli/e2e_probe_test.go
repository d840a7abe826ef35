package cli_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	corev1 "k8s.io/api/core/v1"

	"kinn.dev/kinn/lab"
	"kinn.dev/kinn/tui"
)

// whyTopology: "shut" probes a port nobody listens on; the "web" pods'
// httpGet probe asks the built-in server's /healthz, which a learner can
// make fail from inside; "noport" is selected by Service web but lacks the
// port name its targetPort names.
const whyTopology = `kind: Cluster
apiVersion: kinn.dev/v1alpha1
nodes:
- role: control-plane
- role: worker
---
apiVersion: v1
kind: Pod
metadata: {name: shut, labels: {app: shut}}
spec:
  containers:
  - name: c
    image: agnhost
    args: [netexec, --http-port=8080]
    ports: [{containerPort: 8080}]
    readinessProbe:
      tcpSocket: {port: 9999}
      periodSeconds: 1
      failureThreshold: 1
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, labels: {app: web}}
spec:
  containers:
  - name: web
    image: agnhost
    args: [netexec, --http-port=8080]
    ports: [{name: http, containerPort: 8080}]
    readinessProbe:
      httpGet: {path: /healthz, port: http}
      periodSeconds: 1
      failureThreshold: 1
---
apiVersion: v1
kind: Pod
metadata: {name: noport, labels: {app: web}}
spec:
  containers:
  - name: web
    image: agnhost
    args: [netexec, --http-port=8080]
    ports: [{name: other, containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: http}]
`

// waitPod polls one pod's -o yaml until ok accepts it.
func (e *env) waitPod(name string, ok func(p corev1.Pod) bool) corev1.Pod {
	e.t.Helper()
	var p corev1.Pod
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		out := e.must("get", "pods", name, "-o", "yaml", "--name", e.name)
		p = corev1.Pod{}
		if err := yaml.Unmarshal([]byte(out), &p); err != nil {
			e.t.Fatal(err)
		}
		if ok(p) {
			return p
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("pod %s never got there:\n%s", name, out)
		}
	}
}

func condition(p corev1.Pod, t corev1.PodConditionType) corev1.PodCondition {
	for _, c := range p.Status.Conditions {
		if c.Type == t {
			return c
		}
	}
	return corev1.PodCondition{}
}

// TestWhyNotReady: a pod whose readiness probe fails says why in its
// conditions (-o yaml), in get pods -o wide, in lab.log (the Events
// screen's source) and in describe, with the probe's own error; the
// built-in server's /healthz fails on purpose when told from inside the
// pod, and mends.
func TestWhyNotReady(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	e := newEnv(t, "fwhy")
	f := filepath.Join(t.TempDir(), "why.yaml")
	os.WriteFile(f, []byte(whyTopology), 0o644)
	e.up(f)

	shut := e.waitPod("shut", func(p corev1.Pod) bool { return condition(p, corev1.ContainersReady).Reason != "" })
	probeErr := fmt.Sprintf("dial tcp %s:9999: connect: connection refused", shut.Status.PodIP)
	for _, ty := range []corev1.PodConditionType{corev1.PodReady, corev1.ContainersReady} {
		c := condition(shut, ty)
		if c.Status != "False" || c.Reason != "ContainersNotReady" || c.Message != "containers with unready status: [c]" {
			t.Errorf("condition %s: %+v", ty, c)
		}
	}
	wide := e.must("get", "pods", "-o", "wide", "--name", e.name)
	if !strings.Contains(wide, "REASON") || !strings.Contains(wide, "Readiness probe failed: "+probeErr) {
		t.Errorf("get pods -o wide does not say why:\n%s", wide)
	}
	event := "pod default/shut: Warning Unhealthy: Readiness probe failed: " + probeErr
	log, _ := os.ReadFile(filepath.Join(e.dirs[3], e.name, "lab.log"))
	if !strings.Contains(string(log), event) {
		t.Errorf("lab.log lacks %q:\n%s", event, log)
	}

	// The terminal UI: the Cluster screen's REASON and the Events screen.
	src := tui.NewLive(lab.Options{StateRoot: e.dirs[1], RuntimeRoot: e.dirs[3]}, e.name)
	defer src.Close()
	snap, err := src.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(snap.Pods, func(p tui.PodInfo) bool { return p.Name == "shut" }); i < 0 {
		t.Errorf("the Cluster screen lacks pod shut")
	} else if r := snap.Pods[i].Reason; !strings.Contains(r, "Readiness probe failed: "+probeErr) {
		t.Errorf("the Cluster screen's REASON for shut: %q", r)
	}
	evs, err := src.Events(context.Background())
	if err != nil || !slices.ContainsFunc(evs, func(ev tui.Event) bool { return strings.Contains(ev.Message, event) }) {
		t.Errorf("the Events screen lacks %q (%v)", event, err)
	}

	// describe: the pod's conditions, its probe and the event, with the
	// probe's own error; the Service's pod without the port's name.
	desc := e.must("--name", e.name, "describe", "pod", "shut") // --name before the verb, too
	t.Logf("describe pod shut:\n%s", desc)
	for _, want := range []string{"Readiness probe failed: " + probeErr, "tcp-socket :9999 delay=0s", "ContainersNotReady",
		"containers with unready status: [c]", "Host Veth:", "AddedInterface"} {
		if !strings.Contains(desc, want) {
			t.Errorf("describe pod lacks %q", want)
		}
	}
	if !regexp.MustCompile(`(?m)^  Warning +Unhealthy +\S+.* +kubelet +Readiness probe failed: `).MatchString(desc) {
		t.Errorf("describe pod has no Unhealthy event row")
	}

	// From inside, as a sick application: the web pod goes unready with
	// the kubelet's reason, then ready again.
	e.waitPod("web-1", func(p corev1.Pod) bool { return condition(p, corev1.PodReady).Status == "True" })
	e.must("exec", "--name", e.name, "web-1", "--", "curl", "-sS", "-X", "POST", "localhost:8080/healthz?status=503")
	sick := e.waitPod("web-1", func(p corev1.Pod) bool { return condition(p, corev1.PodReady).Status == "False" })
	if c := condition(sick, corev1.ContainersReady); c.Reason != "ContainersNotReady" || c.Message != "containers with unready status: [web]" {
		t.Errorf("after /healthz?status=503: %+v", c)
	}
	if got := sick.Annotations["kinn.dev/readiness"]; got != "Readiness probe failed: HTTP probe failed with statuscode: 503" {
		t.Errorf("reason %q", got)
	}
	svc := e.must("describe", "svc", "web", "--name", e.name)
	t.Logf("describe svc web (web-1 sick):\n%s", svc)
	for _, want := range []string{"Selector:", "app=web", "Endpoints:", "Selected Pods Not Used:",
		`port 80: the pod has no container port named "http" (TCP)`,
		"not ready: Readiness probe failed: HTTP probe failed with statuscode: 503"} {
		if !strings.Contains(svc, want) {
			t.Errorf("describe svc lacks %q", want)
		}
	}
	e.must("exec", "--name", e.name, "web-1", "--", "curl", "-sS", "-X", "POST", "localhost:8080/healthz?status=200")
	mended := e.waitPod("web-1", func(p corev1.Pod) bool { return condition(p, corev1.PodReady).Status == "True" })
	svc = e.must("describe", "svc", "web", "--name", e.name)
	if !strings.Contains(svc, "Endpoints:                "+mended.Status.PodIP+":8080\n") || strings.Contains(svc, "not ready") {
		t.Errorf("describe svc after mending:\n%s", svc)
	}
	for _, what := range []string{"node " + mended.Spec.NodeName, "endpointslice web", "deployment nope"} {
		kind, name, _ := strings.Cut(what, " ")
		out, errOut, code := e.run("describe", kind, name, "--name", e.name)
		if (code == 0) != (name != "nope") {
			t.Errorf("describe %s: exit %d\n%s%s", what, code, out, errOut)
		}
	}
}
