package tui

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kinn.dev/kinn/lab"
)

func TestSwitchScreens(t *testing.T) {
	t.Parallel()
	m, _ := newTestModel(t, newFake(), 80, 24)
	steps := []struct {
		key  string
		want int
	}{{"tab", 1}, {"tab", 2}, {"shift+tab", 1}, {"5", 4}, {"tab", 5}, {"tab", 0}, {"shift+tab", 5}, {"6", 5}, {"1", 0}, {"4", 3}}
	for _, s := range steps {
		press(m, s.key)
		if m.active != s.want {
			t.Fatalf("after %q: screen %d, want %d", s.key, m.active, s.want)
		}
	}
	if !strings.Contains(strings.Split(screenText(m), "\n")[0], "[4 Rules]") {
		t.Errorf("title bar does not mark Rules as active:\n%s", screenText(m))
	}
}

func TestQuit(t *testing.T) {
	t.Parallel()
	for _, k := range []string{"q", "ctrl+c"} {
		m, _ := newTestModel(t, newFake(), 80, 24)
		cmd := press(m, k)
		if cmd == nil {
			t.Fatalf("%s: no command", k)
		}
		if _, ok := cmd().(tea.QuitMsg); !ok {
			t.Errorf("%s does not quit", k)
		}
	}
	// While filtering, q is text; ctrl+c still quits.
	m, _ := newTestModel(t, newFake(), 80, 24)
	if cmd := press(m, "/", "q"); cmd != nil {
		t.Errorf("q in the filter returned a command")
	}
	if m.filters[0] != "q" {
		t.Errorf("filter = %q, want q", m.filters[0])
	}
}

func TestFilter(t *testing.T) {
	t.Parallel()
	m, _ := newTestModel(t, newFake(), 80, 24)
	press(m, "/", "c", "o", "r", "e")
	out := screenText(m)
	if !strings.Contains(out, "coredns") || strings.Contains(out, "client") || strings.Contains(out, "web-7d4b") {
		t.Fatalf("filter core shows the wrong rows:\n%s", out)
	}
	if !strings.Contains(out, "/core▏") {
		t.Errorf("status line does not show the filter being edited:\n%s", out)
	}
	press(m, "backspace", "backspace", "backspace", "backspace", "k", "u", "b", "e", "enter")
	out = screenText(m)
	if !strings.Contains(out, "filter: kube") || !strings.Contains(out, "kube-dns") || strings.Contains(out, "client") {
		t.Fatalf("kept filter kube:\n%s", out)
	}
	// Kept: keys move again instead of typing.
	press(m, "j")
	if m.filters[0] != "kube" {
		t.Errorf("j after enter changed the filter to %q", m.filters[0])
	}
	// Each screen has its own filter.
	press(m, "2")
	if strings.Contains(screenText(m), "filter:") {
		t.Errorf("Traffic shows Cluster's filter")
	}
	press(m, "1", "esc")
	if out := screenText(m); strings.Contains(out, "filter:") || !strings.Contains(out, "client") {
		t.Errorf("esc did not clear the filter:\n%s", out)
	}
	// esc while editing clears too.
	press(m, "/", "x", "y", "z", "esc")
	if m.filtering || m.filters[0] != "" {
		t.Errorf("esc while editing: filtering=%t filter=%q", m.filtering, m.filters[0])
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	m, _ := newTestModel(t, newFake(), 200, 60)
	press(m, "?")
	out := screenText(m)
	for _, b := range append(keys.global(), append(m.screens[0].Keys(), m.screens[3].Keys()...)...) {
		if !strings.Contains(out, b.Help().Desc) {
			t.Errorf("help lacks %q", b.Help().Desc)
		}
	}
	press(m, "x")
	if m.help || strings.Contains(screenText(m), "Everywhere") {
		t.Errorf("a key did not close the help")
	}
}

// cursorLine is the index of the line starting with '>', or -1.
func cursorLine(out string) int {
	for i, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "> ") || strings.HasPrefix(l, ">   ") {
			return i
		}
	}
	return -1
}

func manyPods(n int) *fakeSource {
	f := newFake()
	f.snap.Pods = nil
	for i := range n {
		node := f.snap.Nodes[i%3].Name
		f.snap.Pods = append(f.snap.Pods, PodInfo{Namespace: "load", Name: fmt.Sprintf("app-6c9f8b7d5-%05d", i),
			Node: node, IP: fmt.Sprintf("10.244.%d.%d", i%3, i/3+2), Ready: i%7 != 0, Ports: []string{"8080/TCP"}})
	}
	return f
}

func TestCursorStaysVisible(t *testing.T) {
	t.Parallel()
	m, _ := newTestModel(t, manyPods(1000), 80, 24)
	for i := range 60 {
		press(m, "down")
		if cursorLine(screenText(m)) < 0 {
			t.Fatalf("after %d downs the cursor is off screen", i+1)
		}
	}
	want := fmt.Sprintf("app-6c9f8b7d5-%05d", 60-3) // three nodes first
	if l := strings.Split(screenText(m), "\n")[cursorLine(screenText(m))]; !strings.Contains(l, want) {
		t.Errorf("cursor line is %q, want %s", l, want)
	}
	for _, keys := range [][]string{{"pgdown", "pgdown"}, {"end"}, {"pgup"}, {"home"}, {"G"}, {"g"}, {"k", "k"}} {
		press(m, keys...)
		if cursorLine(screenText(m)) < 0 {
			t.Fatalf("after %v the cursor is off screen", keys)
		}
	}
	press(m, "end")
	if out := screenText(m); !strings.Contains(out, "kube-dns") {
		t.Errorf("end does not reach the last service:\n%s", out)
	}
	press(m, "home")
	if out := screenText(m); !strings.Contains(out, "NODES (3)") {
		t.Errorf("home does not show the top with its titles:\n%s", out)
	}
	// The same on a resize to a smaller window.
	press(m, "end")
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 10})
	if out := screenText(m); cursorLine(out) < 0 || len(strings.Split(out, "\n")) != 10 {
		t.Errorf("after resizing to 80x10:\n%s", out)
	}
}

func TestThousandPodsRenderOnlyVisibleRows(t *testing.T) {
	t.Parallel()
	for _, size := range [][2]int{{80, 24}, {200, 60}} {
		m, _ := newTestModel(t, manyPods(1000), size[0], size[1])
		out := screenText(m)
		checkFrame(t, out, size[0], size[1])
		if n := strings.Count(out, "app-6c9f8b7d5-"); n >= size[1] {
			t.Errorf("%dx%d: %d pod rows rendered", size[0], size[1], n)
		}
	}
}

func BenchmarkView1000Pods(b *testing.B) {
	m := newModel(b.Context(), manyPods(1000), Options{NoColor: true, Now: func() time.Time { return t0 }, Width: 200, Height: 60})
	load(m, kindSnapshot)
	for b.Loop() {
		press(m, "down")
		_ = m.View()
	}
}

func BenchmarkSnapshot1000Pods(b *testing.B) {
	m := newModel(b.Context(), manyPods(1000), Options{NoColor: true, Now: func() time.Time { return t0 }, Width: 200, Height: 60})
	msg := m.sh.f.fetch(kindSnapshot, "", false)()
	for b.Loop() {
		m.Update(msg)
	}
}

// selectPod moves the Cluster cursor onto the pod named name.
func selectPod(t *testing.T, m *model, name string) {
	t.Helper()
	press(m, "1", "home")
	for range 50 {
		if p := m.screens[0].(*clusterScreen).selectedPod(); p != nil && p.Name == name {
			return
		}
		press(m, "down")
	}
	t.Fatalf("pod %s not found", name)
}

// runAction executes the command a key returned and feeds its message back.
func runAction(t *testing.T, m *model, cmd tea.Cmd) {
	t.Helper()
	if cmd == nil {
		t.Fatal("no command")
	}
	msg := cmd()
	if _, ok := msg.(actionMsg); !ok {
		t.Fatalf("command returned %T, want actionMsg", msg)
	}
	m.Update(msg)
}

func TestActions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pod    string
		keys   []string
		call   string
		status string
	}{
		{"web-7d4b9c8f6-x2k9p", []string{"r"}, "SetReady default/web-7d4b9c8f6-x2k9p false", "ready=false"},
		{"web-7d4b9c8f6-vv5tn", []string{"r"}, "SetReady default/web-7d4b9c8f6-vv5tn true", "ready=true"},
		{"client", []string{"d"}, "DeletePod default/client", "deleted default/client"},
		{"web-7d4b9c8f6-q8z7m", []string{"+"}, "Scale default/web 4", "scaled default/web to 4"},
		{"web-7d4b9c8f6-q8z7m", []string{"-"}, "Scale default/web 2", "scaled default/web to 2"},
		{"client", []string{"s", "enter"}, "SendRequests default/client default/web 20",
			"default/client -> default/web: web-7d4b9c8f6-q8z7m 10, web-7d4b9c8f6-x2k9p 10"},
		{"client", []string{"s", "down", "backspace", "backspace", "7", "enter"}, "SendRequests default/client kube-system/kube-dns 7", "kube-dns"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.keys, "")+"-"+tt.pod, func(t *testing.T) {
			t.Parallel()
			f := newFake()
			m, _ := newTestModel(t, f, 80, 24)
			selectPod(t, m, tt.pod)
			cmd := press(m, tt.keys...)
			if len(f.Calls()) != 0 {
				t.Fatalf("Update called the source itself: %v", f.Calls())
			}
			runAction(t, m, cmd)
			if got := f.Calls(); !slices.Equal(got, []string{tt.call}) {
				t.Errorf("calls = %q, want %q", got, tt.call)
			}
			if out := screenText(m); !strings.Contains(out, tt.status) {
				t.Errorf("status line lacks %q:\n%s", tt.status, out)
			}
		})
	}
}

func TestActionErrors(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.fail["DeletePod default/client"] = errTest("lab process not running")
	m, _ := newTestModel(t, f, 80, 24)
	selectPod(t, m, "client")
	runAction(t, m, press(m, "d"))
	if out := screenText(m); !strings.Contains(out, "! delete default/client: lab process not running") {
		t.Errorf("failure not in the status line:\n%s", out)
	}
	// Not a Deployment's pod: no call, a message.
	runAction(t, m, press(m, "+"))
	if out := screenText(m); !strings.Contains(out, "default/client is not a Deployment's pod") {
		t.Errorf("scaling a bare pod:\n%s", out)
	}
	// On a node row: no pod selected.
	press(m, "home")
	runAction(t, m, press(m, "r"))
	if out := screenText(m); !strings.Contains(out, "select a pod first") {
		t.Errorf("action on a node:\n%s", out)
	}
	if got := f.Calls(); len(got) != 1 {
		t.Errorf("calls = %q, want only the delete", got)
	}
}

func TestDrillIntoNode(t *testing.T) {
	t.Parallel()
	m, _ := newTestModel(t, newFake(), 80, 24)
	press(m, "down", "down", "enter") // demo-worker2
	out := screenText(m)
	if !strings.Contains(out, "PODS ON demo-worker2 (2)") || strings.Contains(out, "client") || strings.Contains(out, "NODES") {
		t.Fatalf("drill into demo-worker2:\n%s", out)
	}
	press(m, "esc")
	out = screenText(m)
	if !strings.Contains(out, "NODES (3)") {
		t.Fatalf("esc did not come back:\n%s", out)
	}
	if l := strings.Split(out, "\n")[cursorLine(out)]; !strings.Contains(l, "demo-worker2") {
		t.Errorf("cursor is not back on the node: %q", l)
	}
}

// grow returns a copy of v with the ClusterIP frontend's and its first
// endpoint's counters up by d.
func grow(v *lab.RulesView, d uint64) *lab.RulesView {
	c := *v
	c.Services = slices.Clone(v.Services)
	c.Services[0].Packets += d
	c.Services[0].Endpoints = slices.Clone(v.Services[0].Endpoints)
	c.Services[0].Endpoints[0].Packets += d
	return &c
}

func TestCounterGrowthHighlighted(t *testing.T) {
	t.Parallel()
	f := newFake()
	m, _ := newTestModel(t, f, 200, 60)
	press(m, "4")
	if out := screenText(m); strings.Contains(out, "↑2") {
		t.Fatalf("first frame already marks growth:\n%s", out)
	}
	node := m.rules.node()
	f.mu.Lock()
	f.rules[node] = grow(f.rules[node], 100)
	f.mu.Unlock()
	load(m, kindRules)
	out := screenText(m)
	for _, want := range []string{"↑318", "↑220"} { // 218+100, 120+100
		if !strings.Contains(out, want) {
			t.Errorf("grown counter %s not marked:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "↑"); n != 2+1 { // the two, and the legend
		t.Errorf("%d '↑' marks, want 2 and the legend:\n%s", n-1, out)
	}
	golden(t, "rules-grew-200x60", out)
	// Unchanged in the next frame: no longer marked.
	load(m, kindRules)
	if out := screenText(m); strings.Count(out, "↑") != 1 {
		t.Errorf("marks stay without growth:\n%s", out)
	}
}

func TestRulesDiff(t *testing.T) {
	t.Parallel()
	f := newFake()
	m, clk := newTestModel(t, f, 200, 60)
	press(m, "4")
	node := m.rules.node()
	f.mu.Lock()
	v := *f.rules[node]
	v.Services = slices.Clone(v.Services)
	v.Services[0].Endpoints = v.Services[0].Endpoints[1:] // x2k9p went away
	v.Services = append(v.Services, lab.FrontendView{Service: "default/api", Frontend: "10.96.30.1:443/TCP",
		Kind: "ClusterIP", Chain: "svc-api-443", Note: "no usable endpoint: rejected"})
	f.rules[node] = &v
	f.mu.Unlock()
	clk.t = t0.Add(time.Second)
	load(m, kindRules)
	out := screenText(m)
	for _, re := range []string{`(?m)^  -\s+=> web-7d4b9c8f6-x2k9p\s+10\.244\.1\.3:8080`, `(?m)^  \+\s+default/api\s+10\.96\.30\.1:443/TCP`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("no line matching %s:\n%s", re, out)
		}
	}
	golden(t, "rules-diff-200x60", out)
	// After diffHold the marks are gone, and so is the removed endpoint.
	clk.t = t0.Add(time.Second + diffHold)
	load(m, kindRules)
	out = screenText(m)
	if regexp.MustCompile(`(?m)^  [-+] `).MatchString(out) {
		t.Errorf("diff marks outlive %s:\n%s", diffHold, out)
	}
	if strings.Count(out, "10.244.1.3:8080") != 1 { // only under the NodePort frontend
		t.Errorf("the removed endpoint is still shown:\n%s", out)
	}
}

func TestRulesNodeCycle(t *testing.T) {
	t.Parallel()
	m, _ := newTestModel(t, newFake(), 80, 24)
	press(m, "4")
	for _, step := range []struct{ key, want string }{{"n", "demo-worker"}, {"right", "demo-worker2"}, {"n", "demo-control-plane"}, {"p", "demo-worker2"}, {"left", "demo-worker"}} {
		cmd := press(m, step.key)
		if m.rules.node() != step.want {
			t.Fatalf("after %s: node %s, want %s", step.key, m.rules.node(), step.want)
		}
		if out := screenText(m); !strings.Contains(out, "waiting for "+step.want+"'s rules") {
			t.Errorf("old node's rules shown after switching:\n%s", out)
		}
		m.Update(cmd())
		if out := screenText(m); !strings.Contains(out, "NODE "+step.want+" ") || !strings.Contains(out, "svc-web-80") {
			t.Errorf("after %s:\n%s", step.key, out)
		}
	}
}

func TestSlowSourceDoesNotBlock(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.block["rates"] = true
	m := newModel(t.Context(), f, Options{NoColor: true, Now: func() time.Time { return t0 }, Width: 80, Height: 24,
		Timeout: 50 * time.Millisecond})
	done := make(chan tea.Msg)
	go func() { done <- m.sh.f.fetch(kindRates, "", true)() }()
	select {
	case msg := <-done:
		m.Update(msg)
	case <-time.After(10 * time.Second):
		t.Fatal("the fetch command did not give up on a stuck source")
	}
	load(m, kindSnapshot)
	out := screenText(m)
	if !strings.Contains(out, "rates: timeout after 50ms") {
		t.Errorf("status line does not say rates time out:\n%s", out)
	}
	if !strings.Contains(out, "demo-worker2") {
		t.Errorf("the rest of the data did not arrive:\n%s", out)
	}
	// Recovery clears the error.
	f.mu.Lock()
	f.block["rates"] = false
	f.mu.Unlock()
	load(m, kindRates)
	if strings.Contains(screenText(m), "timeout") {
		t.Errorf("error stays after the source recovered")
	}
}

func TestPanickingSourceBecomesError(t *testing.T) {
	t.Parallel()
	m := newModel(t.Context(), panicSource{newFake()}, Options{NoColor: true, Now: func() time.Time { return t0 }})
	load(m, kindEvents)
	if out := screenText(m); !strings.Contains(out, "events: panic: collector bug") {
		t.Errorf("panic not reported:\n%s", out)
	}
}

type panicSource struct{ *fakeSource }

func (panicSource) Events(context.Context) ([]Event, error) { panic("collector bug") }

func TestDataLoopRearms(t *testing.T) {
	t.Parallel()
	m, _ := newTestModel(t, newFake(), 80, 24)
	_, cmd := m.Update(dataMsg{kind: kindFlows, rearm: true, flows: nil})
	if cmd == nil {
		t.Fatal("a periodic result does not re-arm its loop")
	}
	// Hidden, the Flows loop keeps ticking but fetches nothing.
	_, cmd = m.Update(tickMsg{kindFlows})
	if msg, ok := cmd().(tickMsg); !ok || msg.kind != kindFlows {
		t.Errorf("a tick for the hidden Flows screen did not just re-arm: %#v", msg)
	}
	// Shown, it fetches at once, and then on every tick.
	_, cmd = m.Update(tea.KeyPressMsg{Code: '3', Text: "3"})
	if msg, ok := cmd().(dataMsg); !ok || msg.kind != kindFlows {
		t.Errorf("showing Flows did not fetch them: %#v", msg)
	}
	_, cmd = m.Update(tickMsg{kindFlows})
	if msg, ok := cmd().(dataMsg); !ok || msg.kind != kindFlows || !msg.rearm {
		t.Errorf("tick did not fetch flows: %#v", msg)
	}
}

func TestNoColour(t *testing.T) {
	t.Parallel()
	colour := regexp.MustCompile(`\x1b\[[0-9;]*(3[0-9]|4[0-9]|38;|48;)[0-9;]*m`)
	for _, nc := range []bool{true, false} {
		m := newModel(t.Context(), newFake(), Options{NoColor: nc, Now: func() time.Time { return t0 }, Width: 120, Height: 40})
		for k := range numKinds {
			load(m, k)
		}
		for i := range m.screens {
			press(m, fmt.Sprint(i+1))
			if got := colour.MatchString(m.View().Content); got == nc {
				t.Errorf("NoColor=%t screen %d: colour codes present=%t", nc, i+1, got)
			}
		}
	}
}

func TestNoColorEnv(t *testing.T) {
	t.Setenv("NO_COLOR", "1")
	if !(Options{}).withDefaults().NoColor {
		t.Error("NO_COLOR is not honoured")
	}
}

// TestRulesDrift: what the kernel lacks is shown as such, not left out:
// the drift lines, the endpoint and the FDB entry marked MISSING.
func TestRulesDrift(t *testing.T) {
	t.Parallel()
	f := newFake()
	m, _ := newTestModel(t, f, 200, 60)
	press(m, "4")
	node := m.rules.node()
	f.mu.Lock()
	v := *f.rules[node]
	v.Services = slices.Clone(v.Services)
	v.Services[0].Endpoints = slices.Clone(v.Services[0].Endpoints)
	v.Services[0].Endpoints[0].Drift = lab.DriftMissing
	v.FDB = append(slices.Clone(v.FDB), lab.EntryView{Entry: "02:6b:00:00:00:02 dst 172.30.0.3 dev vxlan.kinn self permanent", Note: "to demo-worker", State: lab.DriftMissing})
	v.Drift = []lab.DriftView{{State: lab.DriftMissing, Object: "chain", Name: "sep-web-80-x2k9p", Summary: "chain sep-web-80-x2k9p had 1 of 2 rules; missing: meta l4proto tcp dnat to 10.244.1.3:8080"}}
	f.rules[node] = &v
	f.mu.Unlock()
	load(m, kindRules)
	out := screenText(m)
	for _, re := range []string{`(?m)^  DRIFT \(1\)`, `MISSING  chain sep-web-80-x2k9p had 1 of 2 rules`,
		`(?m)^\s+=> web-7d4b9c8f6-x2k9p\s+10\.244\.1\.3:8080\s+ready MISSING`, `dst 172\.30\.0\.3 .*# to demo-worker MISSING`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("no line matching %s:\n%s", re, out)
		}
	}
}

// TestRulesTable: the table's fixed machinery closes the Rules screen, one
// line per object within 80 columns, and a chain's counter that grew is
// marked like a Service's.
func TestRulesTable(t *testing.T) {
	t.Parallel()
	f := newFake()
	m, _ := newTestModel(t, f, 80, 24)
	press(m, "4", "end")
	node := m.rules.node()
	f.mu.Lock()
	v := *f.rules[node]
	v.Table = slices.Clone(v.Table)
	grown := *v.Table[1].Packets + 5 // services
	v.Table[1].Packets = &grown
	f.rules[node] = &v
	f.mu.Unlock()
	load(m, kindRules)
	out := screenText(m)
	checkFrame(t, out, 80, 24)
	for _, re := range []string{`(?m)^  TABLE ip kinn \(7\)`, `(?m)^  NAME\s+PKTS\s+SIZE\s+WHAT FOR`,
		`(?m)^\s+services\s+↑258\s+Service dispatch`, `(?m)^\s+service-ips\s+2\s+Service IP`, `(?m)^> svc-\*\s+2\s+one Service port`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("no line matching %s:\n%s", re, out)
		}
	}
	if strings.Contains(out, "↑480") {
		t.Errorf("a counter that did not grow is marked:\n%s", out)
	}
	golden(t, "rules-table-80x24", out)
}

// TestCallDetail: enter on a CNI call shows it in full (the verdict, exit
// status, configuration, stderr as lines, environment), the keys scroll it,
// esc comes back to the same row; enter on other events does nothing.
func TestCallDetail(t *testing.T) {
	m, _ := newTestModel(t, newFake(), 80, 24)
	press(m, "5", "enter")
	if out := screenText(m); !strings.Contains(out, "EVENTS (") {
		t.Fatalf("enter on a drift event left the list:\n%s", out)
	}
	press(m, "down", "down", "down", "down", "enter") // past the failed STATUS and the folded routine calls
	out := screenText(m)
	for _, want := range []string{"CNI ADD default/doomed on demo-worker2 by bridge at 15:05:26", "outcome: plugin bridge failed (exit status 2)",
		"exit:    2", "CONFIG", `"bridge": "cni0"`, "STDERR", "    panic: boom\n", "    goroutine 1 [running]:\n", "        /src/bridge.go:42 +0x1d"} {
		if !strings.Contains(out, want) {
			t.Errorf("the call's detail lacks %q:\n%s", want, out)
		}
	}
	press(m, "end")
	if out := screenText(m); !strings.Contains(out, "CNI_IFNAME=eth0") || !strings.Contains(out, "CNI ADD") {
		t.Errorf("end does not scroll to the environment under the title:\n%s", out)
	}
	press(m, "esc")
	out = screenText(m)
	if !strings.Contains(out, "> 15:05:26") || !strings.Contains(out, "ADD default/doomed on demo-worker2 by bridge: pl") {
		t.Errorf("esc does not come back to the call's row:\n%s", out)
	}
}

// TestPodReasonCNI: a pod whose ADD failed shows the CNI error as its
// reason, without repeating its own name.
func TestPodReasonCNI(t *testing.T) {
	p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "doomed"},
		Status: corev1.PodStatus{Reason: lab.ReasonCNIFailed, Message: "pod default/doomed: CNI ADD: doomed pods are refused; on purpose"}}
	if got := podReason(p, ""); got != "CNI ADD: doomed pods are refused; on purpose" {
		t.Errorf("reason %q", got)
	}
	p.Status = corev1.PodStatus{}
	if got := podReason(p, "readiness set false"); got != "readiness set false" {
		t.Errorf("reason of a running pod %q", got)
	}
}
