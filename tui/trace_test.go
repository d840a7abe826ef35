package tui

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"kinn.dev/kinn/lab"
	"kinn.dev/kinn/lab/trace"
)

// runCmd runs a command and feeds what it says back to the model, as the
// program would (a batch's commands each in turn).
func runCmd(m *model, cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	switch msg := cmd().(type) {
	case tea.BatchMsg:
		for _, c := range msg {
			runCmd(m, c)
		}
	case nil:
	default:
		_, next := m.Update(msg)
		if _, ok := msg.(actionMsg); !ok { // an action's follow-up is a fetch
			runCmd(m, next)
		}
	}
}

func TestTracePickers(t *testing.T) {
	t.Parallel()
	m, _ := newTestModel(t, newFake(), 80, 24)
	press(m, "6")
	tr := m.trace
	if m.active != 5 || tr.src.chosen != "pod/default/client" || tr.dst.chosen != "svc/default/web" {
		t.Fatalf("screen %d, from %q to %q; want 5, the first pod to the first Service", m.active, tr.src.chosen, tr.dst.chosen)
	}
	// The keys move the source; → gives them to the destination.
	press(m, "down", "down")
	if tr.src.chosen != "pod/default/web-7d4b9c8f6-vv5tn" {
		t.Errorf("two down: source %q", tr.src.chosen)
	}
	press(m, "right", "end")
	if tr.src.chosen != "pod/default/web-7d4b9c8f6-vv5tn" || tr.dst.chosen != "pod/kube-system/coredns-5d78c9869d-h7r2k" {
		t.Errorf("→ end: from %q to %q", tr.src.chosen, tr.dst.chosen)
	}
	// A filter picks in the column with the keys and keeps the other's
	// choice, even where the filter hides it.
	press(m, "/", "n", "o", "d", "e", "/", "enter")
	if tr.dst.chosen != "node/demo-control-plane:30080" || tr.src.chosen != "pod/default/web-7d4b9c8f6-vv5tn" {
		t.Errorf("filter node/: from %q to %q", tr.src.chosen, tr.dst.chosen)
	}
	press(m, "down")
	out := screenText(m)
	if !strings.Contains(out, "> node/demo-worker:30080") || strings.Contains(out, "svc/default/web ") {
		t.Errorf("filtered destination:\n%s", out)
	}
	if !strings.Contains(out, "TRACE from pod/default/web-7d4b9c8f6-vv5tn to node/demo-worker:30080") {
		t.Errorf("the title does not say what is chosen:\n%s", out)
	}
	press(m, "esc") // clears the filter, keeps both choices
	if tr.dst.chosen != "node/demo-worker:30080" || tr.src.chosen != "pod/default/web-7d4b9c8f6-vv5tn" {
		t.Errorf("after esc: from %q to %q", tr.src.chosen, tr.dst.chosen)
	}
	// Protocol and port, shown as the CLI's command line.
	press(m, "p", ":", "8", "0", "8", "1", "enter")
	if got := tr.command(); got != "kinn trace pod/default/web-7d4b9c8f6-vv5tn node/demo-worker:30080 --proto udp --port 8081" {
		t.Errorf("the command line: %q", got)
	}
	if r, _, _ := tr.request(); r.Proto != "udp" || r.Port != 8081 || r.Dst != "node/demo-worker:30080" || r.Src.Pod != "web-7d4b9c8f6-vv5tn" {
		t.Errorf("the request: %+v", r)
	}
	press(m, "p", "p")
	if protos[tr.proto] != "tcp" {
		t.Errorf("p three times: %s", protos[tr.proto])
	}
	// A bad port is refused and left to correct; esc keeps the one before.
	runCmd(m, press(m, ":", "backspace", "backspace", "backspace", "backspace", "0", "enter"))
	if !tr.editing || !strings.Contains(screenText(m), "port 0: a port is 1 to 65535") {
		t.Errorf("port 0 accepted:\n%s", screenText(m))
	}
	press(m, "esc")
	if tr.editing || tr.port != "8081" {
		t.Errorf("esc in the port editor: editing %v, port %q", tr.editing, tr.port)
	}
}

// TestTraceRun: enter runs the trace through the source with what the
// pickers say, and the journey comes back in the CLI's words.
func TestTraceRun(t *testing.T) {
	t.Parallel()
	f := newFake()
	m, _ := newTestModel(t, f, 80, 24)
	press(m, "6")
	cmd := press(m, "enter")
	if out := screenText(m); !strings.Contains(out, "tracing pod/default/client -> svc/default/web…") {
		t.Errorf("no word of the trace running:\n%s", out)
	}
	// While it runs the UI is live: other screens, other keys.
	press(m, "1", "6")
	runCmd(m, cmd)
	if want := "Trace {Namespace:default Pod:client Node: External:false} svc/default/web tcp 0"; !slices.Contains(f.Calls(), want) {
		t.Fatalf("calls %q, want %q", f.Calls(), want)
	}
	out := screenText(m)
	for _, want := range []string{"✓ DELIVERED: 10.96.1.1:80 answered TCP", "REQUEST", " 1 pod default/client on kinn-worker2",
		"trace pod/default/client -> svc/default/web: delivered"} {
		if !strings.Contains(out, want) {
			t.Errorf("journey lacks %q:\n%s", want, out)
		}
	}
	// Scrolled to the end: the reply and the CLI's verdict line.
	press(m, "end")
	if out := screenText(m); !strings.Contains(out, "REPLY") || strings.Count(out, "✓ DELIVERED") != 2 {
		t.Errorf("the end of the journey:\n%s", out)
	}
	// v: the detail, as kinn trace -v shows it (each rule's nft text).
	press(m, "home")
	rule := "ip daddr . meta l4proto . th dport vmap @service-ips"
	if strings.Contains(allLines(m), rule) {
		t.Fatalf("rule text shown without v")
	}
	press(m, "v")
	if !strings.Contains(allLines(m), rule) {
		t.Errorf("v does not show the rules' text")
	}
	// esc: back to the pickers; enter again: another trace.
	press(m, "esc")
	if m.trace.showing || !strings.Contains(screenText(m), "[SOURCE]") {
		t.Errorf("esc does not go back to the pickers:\n%s", screenText(m))
	}
}

// allLines is the whole journey as the screen lays it out, unscrolled.
func allLines(m *model) string {
	tr := m.trace
	return ansi.Strip(strings.Join(journeyLines(m.sh.st, tr.res.title, tr.res.journey, tr.verbose, tr.w), "\n"))
}

func TestTraceDropped(t *testing.T) {
	t.Parallel()
	f := newFake()
	addDroppedService(f)
	m, _ := newTestModel(t, f, 200, 50)
	press(m, "6", "right", "/", "2", "5", "5", "enter")
	runCmd(m, press(m, "enter"))
	out := screenText(m)
	if !strings.Contains(out, "✗ DROPPED: dropped (no answer) in kinn-worker2") || !strings.Contains(out, "✗ drop") {
		t.Errorf("a dropped journey:\n%s", out)
	}
}

// TestTraceCancel: esc cancels the trace through its context; the screen
// says so only when the trace has returned (its tables removed).
func TestTraceCancel(t *testing.T) {
	t.Parallel()
	f, m, cmd := startBlockedTrace(t)
	got := make(chan tea.Msg)
	go func() { got <- cmd() }()
	select {
	case <-got:
		t.Fatal("the trace returned before it was cancelled")
	case <-time.After(50 * time.Millisecond):
	}
	if c := press(m, "enter"); c == nil {
		t.Errorf("enter while a trace runs: no word")
	} else if a, ok := c().(actionMsg); !ok || a.err == nil || !strings.Contains(a.err.Error(), "a trace is running") {
		t.Errorf("enter while a trace runs: %v", a)
	}
	press(m, "esc")
	if !strings.Contains(screenText(m), "cancelling pod/default/client -> svc/default/web… removing its trace tables") {
		t.Errorf("no word of the cancel:\n%s", screenText(m))
	}
	var msg tea.Msg
	select {
	case msg = <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("esc did not cancel the trace")
	}
	if !slices.Contains(f.Calls(), "Trace cleaned up") {
		t.Errorf("the trace did not see its context end: %q", f.Calls())
	}
	_, next := m.Update(msg)
	runCmd(m, next)
	out := screenText(m)
	if m.trace.run != nil || m.trace.showing || !strings.Contains(out, "trace pod/default/client -> svc/default/web cancelled: its tables are removed") {
		t.Errorf("after the cancel:\n%s", out)
	}
}

// startBlockedTrace starts a trace that waits for its context to end.
func startBlockedTrace(t *testing.T) (*fakeSource, *model, tea.Cmd) {
	f := newFake()
	f.block["trace"] = true
	m, _ := newTestModel(t, f, 80, 24)
	return f, m, press(m, "6", "enter")
}

// TestTraceStopOnQuit: quitting cancels a running trace and waits for it.
func TestTraceStopOnQuit(t *testing.T) {
	t.Parallel()
	f, m, cmd := startBlockedTrace(t)
	go cmd()
	time.Sleep(20 * time.Millisecond)
	m.trace.stop(5 * time.Second)
	if !slices.Contains(f.Calls(), "Trace cleaned up") {
		t.Errorf("stop returned before the trace cleaned up: %q", f.Calls())
	}
}

func TestTraceErrors(t *testing.T) {
	t.Parallel()
	f := newFake()
	m, _ := newTestModel(t, f, 80, 24)
	press(m, "6")
	f.fail["Trace {Namespace:default Pod:client Node: External:false} svc/default/web tcp 0"] = &lab.BadInput{Err: errTest(`destination: Service default/web has no TCP port 0`)}
	runCmd(m, press(m, "enter"))
	out := screenText(m)
	if !m.failed || !strings.Contains(out, "! destination: Service default/web has no TCP port 0") || !strings.Contains(out, "[SOURCE]") {
		t.Errorf("a refused request:\n%s", out)
	}
	// Nothing to choose: said, nothing run.
	m.trace.src.chosen = ""
	runCmd(m, press(m, "enter"))
	if !strings.Contains(screenText(m), "choose a source and a destination first") {
		t.Errorf("enter with no source:\n%s", screenText(m))
	}
	// A panicking source is an error, not a crash.
	p := &panicTracer{fakeSource: newFake()}
	m, _ = newTestModel(t, p, 80, 24)
	runCmd(m, press(m, "6", "enter"))
	if !strings.Contains(screenText(m), "panic: boom") {
		t.Errorf("a panicking trace:\n%s", screenText(m))
	}
}

type panicTracer struct{ *fakeSource }

func (p *panicTracer) Trace(ctx context.Context, r lab.TraceRequest) (trace.Journey, string, error) {
	panic("boom")
}

// TestTraceFromCluster: t on a pod opens the Trace screen from it.
func TestTraceFromCluster(t *testing.T) {
	t.Parallel()
	m, _ := newTestModel(t, newFake(), 80, 24)
	press(m, "/", "x", "2", "k", "enter")
	runCmd(m, press(m, "t"))
	tr := m.trace
	if m.active != 5 || tr.src.chosen != "pod/default/web-7d4b9c8f6-x2k9p" || !tr.right {
		t.Fatalf("t on a pod: screen %d, source %q, destination's turn %v", m.active, tr.src.chosen, tr.right)
	}
	if !strings.Contains(screenText(m), "TRACE from pod/default/web-7d4b9c8f6-x2k9p to svc/default/web") {
		t.Errorf("the Trace screen:\n%s", screenText(m))
	}
	// On a node: from the node; on a Service: refused.
	m, _ = newTestModel(t, newFake(), 80, 24)
	runCmd(m, press(m, "down", "t"))
	if m.active != 5 || m.trace.src.chosen != "node/demo-worker" {
		t.Errorf("t on a node: screen %d, source %q", m.active, m.trace.src.chosen)
	}
	m, _ = newTestModel(t, newFake(), 80, 24)
	runCmd(m, press(m, "end", "t"))
	if m.active != 0 || !strings.Contains(screenText(m), "select a pod or a node to trace from") {
		t.Errorf("t on a Service: screen %d\n%s", m.active, screenText(m))
	}
}

// TestTraceIdle: the Trace screen fetches nothing of its own while shown:
// only the snapshot, at a hidden screen's rate.
func TestTraceIdle(t *testing.T) {
	t.Parallel()
	m, _ := newTestModel(t, newFake(), 80, 24)
	press(m, "6")
	var wanted []kind
	for range 10 {
		for k := range numKinds {
			if m.wants(k) {
				wanted = append(wanted, k)
			}
		}
	}
	snapshots := 0
	for _, k := range wanted {
		if k != kindSnapshot && k != kindRates {
			t.Errorf("the Trace screen fetches %s while idle", k)
		}
		if k == kindSnapshot {
			snapshots++
		}
	}
	if snapshots > 2 {
		t.Errorf("%d snapshots in 10 ticks, want at most 2 (a hidden screen's rate): %v", snapshots, wanted)
	}
}

func TestWrapLine(t *testing.T) {
	t.Parallel()
	long := "   → nftables  goto ep-default/web/80/tcp/web-6c799c9b6c-pssts-8080-and-a-very-long-tail  [Service default/web]"
	for _, w := range []int{30, 40, 80} {
		got := wrapLine(long, w)
		for _, l := range got {
			if width(l) > w {
				t.Errorf("w %d: line %q is %d wide", w, l, width(l))
			}
		}
		for _, l := range got[1:] {
			if !strings.HasPrefix(l, strings.Repeat(" ", min(3+hopIndent, w/2))) {
				t.Errorf("w %d: continuation %q not under the action", w, l)
			}
		}
		// Nothing lost: the words, joined again, are the line's.
		var joined string
		for _, l := range got {
			joined += strings.TrimSpace(l)
		}
		if strings.ReplaceAll(joined, " ", "") != strings.ReplaceAll(long, " ", "") {
			t.Errorf("w %d: wrapped text differs:\n%q\n%q", w, joined, long)
		}
	}
	if got := wrapLine("short", 80); len(got) != 1 || got[0] != "short" {
		t.Errorf("a short line: %q", got)
	}
}

// Journeys with the detail on, and a dropped one, as goldens.
func TestGoldenTrace(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		size [2]int
		keys []string
	}{
		{"trace-detail", [2]int{200, 50}, []string{"v", "pgdown"}},
		{"trace-detail", [2]int{80, 24}, []string{"v"}},
		{"trace-dropped", [2]int{80, 24}, []string{"end"}},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("%s-%dx%d", tt.name, tt.size[0], tt.size[1])
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFake()
			dst := "svc/default/web"
			if tt.name == "trace-dropped" {
				dst = "svc/default/gone-255"
				addDroppedService(f)
			}
			m, _ := newTestModel(t, f, tt.size[0], tt.size[1])
			press(m, "6")
			m.trace.dst.choose(dst)
			runCmd(m, press(m, "enter"))
			press(m, tt.keys...)
			out := screenText(m)
			checkFrame(t, out, tt.size[0], tt.size[1])
			golden(t, name, out)
		})
	}
}

// addDroppedService adds a Service the fake traces as dropped.
func addDroppedService(f *fakeSource) {
	f.snap.Services = append(f.snap.Services, ServiceInfo{Namespace: "default", Name: "gone-255", Type: "ClusterIP", ClusterIP: "10.96.255.254", Ports: []string{"80/TCP"}})
}

// TestOnlyCancelled: a cancelled trace says its tables are removed only
// when nothing went wrong while removing them.
func TestOnlyCancelled(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{context.Canceled, true},
		{fmt.Errorf("trace: %w", context.Canceled), true},
		{errors.Join(context.Canceled, nil), true},
		{errors.Join(context.Canceled, errors.New("remove trace table: busy")), false},
		{errors.New("other"), false},
		{nil, false},
	} {
		if got := onlyCancelled(c.err); got != c.want {
			t.Errorf("onlyCancelled(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
