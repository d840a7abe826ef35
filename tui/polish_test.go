package tui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	corev1 "k8s.io/api/core/v1"
)

// At 80 columns the PODS table keeps NODE and READY: they answer "where
// is it, is it ready"; PORTS goes first.
func TestPodColumnsAt80(t *testing.T) {
	t.Parallel()
	for _, w := range []int{80, 100, 200} {
		m, _ := newTestModel(t, manyPods(30), w, 24)
		press(m, "down", "down", "down") // onto the pods
		var header string
		for _, l := range strings.Split(screenText(m), "\n") {
			if strings.Contains(l, "NAMESPACE") && strings.Contains(l, "NAME") {
				header = l
				break
			}
		}
		for _, col := range []string{"NAME", "NODE", "IP", "READY"} {
			if !strings.Contains(header, " "+col+" ") {
				t.Errorf("%d columns: the PODS header %q lacks %s", w, header, col)
			}
		}
	}
}

// newerFlows puts n new flows at the top of the fake's list (newest first).
func newerFlows(f *fakeSource, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range n {
		f.flows = append(f.flows, Flow{Node: "demo-worker", Proto: "tcp", Client: fmt.Sprintf("10.244.1.2:%d", 41000+i),
			Service: "10.96.20.5:80", Endpoint: "10.244.1.3:8080", State: "TIME_WAIT", Started: t0.Add(time.Duration(i) * time.Millisecond), New: true})
	}
}

func newerEvents(f *fakeSource, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range n {
		f.events = append(f.events, Event{Time: t0.Add(time.Duration(i) * time.Millisecond), Kind: "pod", Message: fmt.Sprintf("default/p%d started", i)})
	}
}

// selectedKey is the key of the row under a list screen's cursor.
func selectedKey(s screen) string {
	var r *row
	switch s := s.(type) {
	case *flowsScreen:
		r = s.l.selected()
	case *eventsScreen:
		r = s.l.selected()
	}
	if r == nil {
		return ""
	}
	return r.key
}

// Each screen keeps its own cursor; Flows and Events, which grow at the
// top, keep a cursor nobody moved at the top with their titles in view.
func TestCursorPerScreen(t *testing.T) {
	t.Parallel()
	f := newFake()
	m, _ := newTestModel(t, f, 80, 24)
	press(m, "down", "down", "down", "down")
	want := m.screens[0].(*clusterScreen).selectedPod()
	if want == nil {
		t.Fatal("no pod selected after four downs")
	}
	for _, sc := range []struct {
		key, title string
		kind       kind
		grow       func(*fakeSource, int)
	}{{"3", "FLOWS (", kindFlows, newerFlows}, {"5", "EVENTS (", kindEvents, newerEvents}} {
		press(m, sc.key)
		if l := cursorLine(screenText(m)); l != 3 {
			t.Errorf("screen %s opens with the cursor on line %d, want 3 (its first row):\n%s", sc.key, l, screenText(m))
		}
		press(m, "1")
		sc.grow(f, 40) // arrives while hidden, and while shown
		load(m, sc.kind)
		press(m, sc.key)
		sc.grow(f, 5)
		load(m, sc.kind)
		out := screenText(m)
		if l := cursorLine(out); l != 3 || !strings.Contains(out, sc.title) {
			t.Errorf("screen %s after new rows at the top: cursor on line %d, want 3 under the titles:\n%s", sc.key, l, out)
		}
		// A cursor moved by the user follows its row.
		press(m, "down", "down")
		key := selectedKey(m.screens[m.active])
		sc.grow(f, 3)
		load(m, sc.kind)
		if got := selectedKey(m.screens[m.active]); got != key {
			t.Errorf("screen %s: a moved cursor went from %q to %q", sc.key, key, got)
		}
		press(m, "home")
	}
	press(m, "1")
	if got := m.screens[0].(*clusterScreen).selectedPod(); got == nil || got.Name != want.Name {
		t.Errorf("back on Cluster the cursor is on %v, want pod %s", got, want.Name)
	}
}

// Flows names each end as the lab does, keeps unknown addresses as they
// are, and says which flows are the kubelet's probes.
func TestFlowNames(t *testing.T) {
	t.Parallel()
	m, _ := newTestModel(t, newFake(), 200, 30)
	press(m, "3")
	out := screenText(m)
	for _, want := range []string{
		"client:40118         -> web:80                      => web-7d4b9c8f6-x2k9p:8080", // pod -> ClusterIP => pod
		"-> kube-system/kube-dns:53",                         // a Service outside default keeps its namespace
		"client:40200         -> web:80",                     // a load-balancer address is its Service
		"172.30.0.1:51000     -> web via demo-worker2:30080", // the host is no one the lab knows; a NodePort
		"kubelet@demo-worker  -> web-7d4b9c8f6-x2k9p:8080", "kubelet probe from demo-worker",
		"demo-worker2         -> 224.0.0.22  ", "multicast (the kernel's IGMP reports", // no ports
	} {
		if !strings.Contains(out, want) {
			t.Errorf("Flows lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "10.244.1.2") {
		t.Errorf("Flows shows a pod's address instead of its name:\n%s", out)
	}
}

// Enter on a Service opens its frontends, endpoints and flows, fetched
// again while it is open; n shows another node's counters; esc goes back.
func TestDrillIntoService(t *testing.T) {
	t.Parallel()
	for _, size := range [][2]int{{80, 24}, {200, 50}} {
		f := newFake()
		m, _ := newTestModel(t, f, size[0], size[1])
		press(m, "end") // the last Service: web is above kube-dns
		press(m, "up")
		if cmd := press(m, "enter"); cmd != nil {
			feed(m, cmd)
		}
		out := screenText(m)
		checkFrame(t, out, size[0], size[1])
		golden(t, fmt.Sprintf("service-%dx%d", size[0], size[1]), out)
		// It starts on the node with most of the Service's flows (the clients').
		for _, want := range []string{"SERVICE default/web", "FRONTENDS ON demo-worker ", "10.96.20.5:80/TCP", "ENDPOINTS", "RECENT FLOWS"} {
			if !strings.Contains(out, want) {
				t.Errorf("%v: the Service view lacks %q:\n%s", size, want, out)
			}
		}
		if !strings.Contains(out, "endpoint counters are shared with ClusterIP 10.96.20.5:80/TCP") {
			t.Errorf("the NodePort frontend does not say its endpoints' counters are shared:\n%s", out)
		}
		// While it is open, the rules and flows loops keep running.
		if !m.wants(kindRules) || !m.wants(kindFlows) {
			t.Errorf("the Service view's data is not fetched while it is open")
		}
		if cmd := press(m, "n"); cmd != nil {
			feed(m, cmd)
		}
		if out := screenText(m); !strings.Contains(out, "FRONTENDS ON demo-worker2 ") {
			t.Errorf("n does not show the next node's counters:\n%s", out)
		}
		press(m, "esc")
		if out := screenText(m); !strings.Contains(out, "PODS (5)") || m.wants(kindFlows) {
			t.Errorf("esc does not go back to the list:\n%s", out)
		}
	}
}

// Enter on a pod opens its describe view; esc goes back to the same row.
func TestDrillIntoPod(t *testing.T) {
	t.Parallel()
	for _, size := range [][2]int{{80, 24}, {200, 50}} {
		f := newFake()
		m, _ := newTestModel(t, f, size[0], size[1])
		selectPod(t, m, "web-7d4b9c8f6-q8z7m")
		feed(m, press(m, "enter"))
		out := screenText(m)
		checkFrame(t, out, size[0], size[1])
		golden(t, fmt.Sprintf("pod-%dx%d", size[0], size[1]), out)
		if !strings.Contains(out, "POD default/web-7d4b9c8f6-q8z7m") || !strings.Contains(out, "Name:         web-7d4b9c8f6-q8z7m") {
			t.Errorf("the pod view:\n%s", out)
		}
		press(m, "esc")
		if p := m.screens[0].(*clusterScreen).selectedPod(); p == nil || p.Name != "web-7d4b9c8f6-q8z7m" {
			t.Errorf("after esc the cursor is on %v", p)
		}
	}
}

// feed runs a command (a batch too) and gives its messages to the model.
func feed(m *model, cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	msg := cmd()
	if b, ok := msg.(tea.BatchMsg); ok {
		for _, c := range b {
			feed(m, c)
		}
		return
	}
	if msg != nil {
		m.Update(msg)
	}
}

// Routine CNI GC/STATUS calls fold into one row; a failed one stays on
// its own; a shows each.
func TestEventsFoldRoutine(t *testing.T) {
	t.Parallel()
	m, _ := newTestModel(t, newFake(), 200, 30)
	press(m, "5")
	out := screenText(m)
	if !strings.Contains(out, "GC/STATUS on 3 nodes: ok (5 calls; a shows each)") {
		t.Errorf("the routine calls are not folded into one row:\n%s", out)
	}
	if !strings.Contains(out, "STATUS on demo-worker2 by kinn: error 50") {
		t.Errorf("the failed STATUS is not shown on its own:\n%s", out)
	}
	if n := strings.Count(out, "GC on "); n != 0 {
		t.Errorf("%d GC rows shown one by one", n)
	}
	press(m, "a")
	if out := screenText(m); strings.Count(out, "GC on ") != 3 || strings.Contains(out, "calls; a shows each") {
		t.Errorf("a does not show each routine call:\n%s", out)
	}
}

// "Send requests" sends what the port speaks.
func TestPortSpeaks(t *testing.T) {
	t.Parallel()
	https := "https"
	for _, tt := range []struct {
		port corev1.ServicePort
		want string
	}{
		{corev1.ServicePort{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}, "dns"},
		{corev1.ServicePort{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP}, "dns"},
		{corev1.ServicePort{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP}, "tls"},
		{corev1.ServicePort{Port: 8443, AppProtocol: &https, Protocol: corev1.ProtocolTCP}, "tls"},
		{corev1.ServicePort{Port: 80, Protocol: corev1.ProtocolTCP}, "http"},
		{corev1.ServicePort{Port: 9000, Protocol: corev1.ProtocolUDP}, "udp"},
	} {
		if got := portSpeaks(tt.port); got != tt.want {
			t.Errorf("%+v speaks %s, want %s", tt.port, got, tt.want)
		}
	}
}

// A Service's view lists the flows addressed to it, not those another
// Service sent to the same pods.
func TestServiceFlowsOnlyItsOwn(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.snap.Services = append(f.snap.Services, ServiceInfo{Namespace: "default", Name: "web-too", Type: "ClusterIP", ClusterIP: "10.96.20.9", Ports: []string{"80/TCP"}})
	f.flows = append(f.flows, Flow{Node: "demo-worker", Proto: "tcp", Client: "10.244.1.2:40999", Service: "10.96.20.9:80", Endpoint: "10.244.1.3:8080", State: "TIME_WAIT", Started: t0})
	m, _ := newTestModel(t, f, 200, 50)
	v := &serviceView{ns: "default", name: "web", rules: f.rules["demo-worker"]}
	for _, fl := range v.flows(m.sh) {
		if fl.Service == "10.96.20.9:80" {
			t.Errorf("web's view lists a flow to web-too: %+v", fl)
		}
	}
	if n := len((&serviceView{ns: "default", name: "web-too"}).flows(m.sh)); n != 1 {
		t.Errorf("web-too's view lists %d flows, want 1", n)
	}
}

// TestUnknownReadiness: with no lab process answering, the Cluster screen
// says readiness is unknown and shows "?" rather than "no" and 0/N.
func TestUnknownReadiness(t *testing.T) {
	t.Parallel()
	f := manyPods(3)
	f.snap.Unknown = true
	m, _ := newTestModel(t, f, 200, 40)
	text := screenText(m)
	if !strings.Contains(text, "readiness unknown: no lab process answers") {
		t.Errorf("no word that readiness is unknown:\n%s", text)
	}
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, "app-6c9f8b7d5-") && !strings.Contains(l, " ? ") {
			t.Errorf("a pod row does not show readiness as ?: %q", l)
		}
	}
}
