package lab

import (
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"kinn.dev/kinn/lab/plan"
	"kinn.dev/kinn/lab/workload"
	"kinn.dev/kinn/topology"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// describeLab: one worker with three pods behind Service web (targetPort
// "http"): web-1 ready, web-2 failing its probe, noport without a port
// named http; and shut, on its own.
func describeLab() *State {
	probe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("http")}}, PeriodSeconds: 1}
	pod := func(name, port string, labels map[string]string) topology.Pod {
		return topology.Pod{Namespace: "default", Name: name, Node: "kinn-worker", Owner: map[bool]string{true: "Deployment/web"}[name[:3] == "web"],
			Pod: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: labels},
				Spec: corev1.PodSpec{NodeName: "kinn-worker", Containers: []corev1.Container{{
					Name: "web", Image: "agnhost", Args: []string{"netexec", "--http-port=8080"},
					Ports: []corev1.ContainerPort{{Name: port, ContainerPort: 8080}}, ReadinessProbe: probe,
				}}}}}
	}
	web := map[string]string{"app": "web"}
	tps := []topology.Pod{pod("web-1", "http", web), pod("web-2", "http", web), pod("noport", "other", web)}
	var pps []plan.Pod
	for i, tp := range tps {
		pps = append(pps, plan.Pod{Namespace: "default", Name: tp.Name, Node: "kinn-worker", NodeNetns: "lab.node.kinn-worker",
			Netns: "lab.pod." + tp.Name, IP: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 244, 1, byte(2 + i)}), 24),
			Want: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 244, 1, byte(2 + i)}), 24), HostVeth: "veth000" + string(rune('a'+i))})
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: corev1.ServiceSpec{Selector: web, Type: corev1.ServiceTypeNodePort, ClusterIP: "10.96.0.20", ClusterIPs: []string{"10.96.0.20"},
			ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal, HealthCheckNodePort: 32000,
			Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromString("http"), NodePort: 30080, Protocol: corev1.ProtocolTCP}}}}
	return &State{
		Topology: &topology.Lab{Nodes: []topology.Node{{Name: "kinn-worker", Labels: map[string]string{"kubernetes.io/hostname": "kinn-worker"}}}, Pods: tps,
			Services: []*corev1.Service{svc}},
		Plan: &plan.Lab{Nodes: []plan.Node{{Name: "kinn-worker", Netns: "lab.node.kinn-worker",
			Underlay: netip.MustParsePrefix("172.18.0.3/16"), PodCIDR: netip.MustParsePrefix("10.244.1.0/24")}}, Pods: pps},
		Services:    []*corev1.Service{svc},
		netnsExists: func(string) bool { return true },
	}
}

var describeNow = time.Date(2026, 12, 7, 12, 10, 0, 0, time.Local)

func describeLive(key string) PodLive {
	l := PodLive{Known: true, Running: true, Ready: true}
	if key == "default/web-2" {
		l.Ready = false
		l.Probes = []workload.ProbeResult{{Container: "web", Error: "Get \"http://10.244.1.3:8080/healthz\": dial tcp 10.244.1.3:8080: connect: connection refused", Failures: 7}}
	}
	return l
}

// describeEvents: the lab process's lines (one failure logged three
// times, folded) and a CNI ADD.
const describeLog = `2026/12/07 12:00:00 lab process for lab started (pid 1)
2026/12/07 12:00:01 pod default/web-2 started on kinn-worker (10.244.1.3)
2026/12/07 12:00:03 pod default/web-2: Warning Unhealthy: Readiness probe failed: Get "http://10.244.1.3:8080/healthz": dial tcp 10.244.1.3:8080: connect: connection refused
2026/12/07 12:01:03 pod default/web-2: Warning Unhealthy: Readiness probe failed: Get "http://10.244.1.3:8080/healthz": dial tcp 10.244.1.3:8080: connect: connection refused
2026/12/07 12:02:03 endpoints default/web:/TCP: 1 ready (10.244.1.2:8080)
2026/12/07 12:09:03 pod default/web-2: Warning Unhealthy: Readiness probe failed: Get "http://10.244.1.3:8080/healthz": dial tcp 10.244.1.3:8080: connect: connection refused
`

func TestDescribe(t *testing.T) {
	d := Describer{State: describeLab(), Live: describeLive, Events: LogEvents(describeLog), Now: describeNow}
	for _, tt := range []struct {
		golden string
		run    func() (string, error)
	}{
		{"describe-pod.golden", func() (string, error) { return d.Pod("default", "web-2") }},
		{"describe-svc.golden", func() (string, error) { return d.Service("default", "web") }},
		{"describe-node.golden", func() (string, error) { return d.Node("kinn-worker") }},
		{"describe-eps.golden", func() (string, error) { return d.EndpointSlice("default", "web") }},
	} {
		t.Run(tt.golden, func(t *testing.T) {
			got, err := tt.run()
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", tt.golden)
			if *update {
				os.WriteFile(path, []byte(got), 0o644)
			}
			want, _ := os.ReadFile(path)
			if got != string(want) {
				t.Errorf("got:\n%s\nwant (%s):\n%s", got, path, want)
			}
		})
	}
	if _, err := d.Pod("default", "nope"); err == nil || err.Error() != `pod "nope" not found in namespace "default"` {
		t.Errorf("unknown pod: %v", err)
	}
}

// TestFoldAnyOrder: repeats folded from newest-first input (the CNI call
// log's order) still span from the earliest to the latest.
func TestFoldAnyOrder(t *testing.T) {
	t.Parallel()
	at := func(m int) time.Time { return time.Date(2026, 12, 7, 10, m, 0, 0, time.UTC) }
	ev := func(m int) Event {
		return Event{Type: "Warning", Reason: "FailedCreatePodSandBox", Object: "pod default/a", Message: "x", First: at(m), Last: at(m), Count: 1}
	}
	got := Fold([]Event{ev(9), ev(5), ev(7)})
	if len(got) != 1 || got[0].Count != 3 || !got[0].First.Equal(at(5)) || !got[0].Last.Equal(at(9)) {
		t.Errorf("Fold = %+v, want one event x3 from 10:05 to 10:09", got)
	}
}
