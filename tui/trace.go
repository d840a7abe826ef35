package tui

// The Trace screen is `kinn trace` in the UI. Two pickers side by side,
// the source (pods, nodes, the outside world) and the destination
// (Services, NodePorts, pods), then the protocol and the port; enter runs
// the trace as a command through Source.Trace (lab.State.Trace, the CLI's
// own code), so the UI stays live while the probe is out, and esc cancels
// it through its context: the trace removes its tables before it returns,
// whichever way it ends, and the screen says so only once it has. Quitting
// cancels a running trace too, and Run waits for its cleanup.
//
// The screen polls nothing of its own: its pickers are the snapshot the
// other screens fetch anyway (at once when it is shown, then at the rate
// of a hidden screen), and a trace runs only when asked for.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"kinn.dev/kinn/lab"
	"kinn.dev/kinn/lab/trace"
)

var traceKeys = struct {
	Side, Proto, Port, Run, Verbose, Again, Back, Cancel, PortDone, PortUndo key.Binding
}{
	Side:     key.NewBinding(key.WithKeys("left", "right", "h", "l"), key.WithHelp("←/→", "from/to")),
	Proto:    key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "protocol")),
	Port:     key.NewBinding(key.WithKeys(":"), key.WithHelp(":", "port")),
	Run:      key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "trace")),
	Verbose:  key.NewBinding(key.WithKeys("v"), key.WithHelp("v", "detail (-v) on/off")),
	Again:    key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "trace again")),
	Back:     key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back to the pickers")),
	Cancel:   key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel the trace")),
	PortDone: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "set the port (empty: the destination's own)")),
	PortUndo: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "keep the port as it was")),
}

var protos = []string{"tcp", "udp", "icmp"}

// traceTimeout is how long the probe waits for its answer: kinn trace's
// --timeout default.
const traceTimeout = 2 * time.Second

// traceHeader is how many lines stand above the pickers.
const traceHeader = 5

// traceMsg is a trace's outcome.
type traceMsg struct {
	id      int
	what    string // "pod/default/client -> svc/default/web"
	journey trace.Journey
	title   string
	err     error
}

// traceFromMsg asks the Trace screen to trace from a pod or a node (`t` on
// the Cluster screen); key is the row's, "pod/NS/NAME" or "node/NAME".
type traceFromMsg struct{ key string }

// traceRun is the trace out now.
type traceRun struct {
	id         int
	what       string
	cancel     context.CancelFunc
	done       chan struct{} // closed when Source.Trace has returned
	cancelling bool
}

// traceResult is the last journey.
type traceResult struct {
	title   string
	journey trace.Journey
}

type traceScreen struct {
	base
	src, dst picker
	right    bool // the destination has the keys
	proto    int  // into protos
	port     string
	editing  bool   // the port is being typed
	was      string // the port before the editing
	built    *Snapshot

	seq     int
	run     *traceRun
	res     *traceResult
	showing bool // the journey, not the pickers
	verbose bool
	pg      pager
}

func newTraceScreen(sh *shared) *traceScreen {
	s := &traceScreen{base: base{sh: sh}}
	s.layout = s.rebuild
	return s
}

func (s *traceScreen) Title() string { return "Trace" }

func (s *traceScreen) Modal() bool { return s.editing }

func (s *traceScreen) Keys() []key.Binding {
	k := traceKeys
	switch {
	case s.editing:
		return []key.Binding{k.PortDone, k.PortUndo}
	case s.run != nil:
		return []key.Binding{k.Cancel}
	case s.showing:
		return []key.Binding{k.Back, k.Verbose, k.Again}
	}
	return []key.Binding{k.Side, k.Proto, k.Port, k.Run}
}

// Back cancels a running trace, or leaves the journey for the pickers.
func (s *traceScreen) Back() bool {
	switch {
	case s.run != nil:
		s.run.cancel()
		s.run.cancelling = true
	case s.showing:
		s.showing = false
	default:
		return false
	}
	return true
}

func (s *traceScreen) SetSize(w, h int) {
	s.w, s.h = w, h
	rows := max(h-traceHeader, 1)
	s.src.l.setHeight(rows)
	s.dst.l.setHeight(rows)
	s.rebuild()
}

func (s *traceScreen) SetFilter(f string) {
	s.src.setFilter(f, !s.right)
	s.dst.setFilter(f, s.right)
}

// split says the pickers stand side by side; in a narrower window only
// the one with the keys is shown, whole (the other's choice is in the
// title), so that names stay whole at 80 columns.
func (s *traceScreen) split() bool { return s.w >= 120 }

// colWidth is one picker's width.
func (s *traceScreen) colWidth() int {
	if s.split() {
		return (s.w - 1) / 2
	}
	return max(s.w, 10)
}

func (s *traceScreen) rebuild() {
	snap := s.sh.snap
	s.built = snap
	if snap == nil {
		return
	}
	w := s.colWidth() - 2 // the mark's two cells
	s.src.setRows(sourceRows(s.sh.st, snap, w))
	s.dst.setRows(destRows(s.sh.st, snap, w))
}

func (s *traceScreen) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case dataMsg:
		if msg.kind == kindSnapshot && msg.err == nil && s.sh.snap != s.built {
			s.changed()
		}
	case traceMsg:
		return s.done(msg)
	case traceFromMsg:
		s.src.choose(msg.key)
		s.right, s.showing = true, false
	case tea.KeyPressMsg:
		return s.key(msg)
	}
	return nil
}

func (s *traceScreen) key(k tea.KeyPressMsg) tea.Cmd {
	switch {
	case s.editing:
		return s.editPort(k)
	case s.showing && s.pg.update(k, s.h):
	case s.showing && key.Matches(k, traceKeys.Verbose):
		s.verbose = !s.verbose
	case !s.showing && navList(&s.focused().l, k):
		s.focused().follow()
	case !s.showing && key.Matches(k, traceKeys.Side):
		s.right = k.String() == "right" || k.String() == "l"
	case !s.showing && key.Matches(k, traceKeys.Proto):
		s.proto = (s.proto + 1) % len(protos)
	case !s.showing && key.Matches(k, traceKeys.Port):
		s.editing, s.was = true, s.port
	case key.Matches(k, traceKeys.Run):
		return s.start()
	}
	return nil
}

func (s *traceScreen) focused() *picker {
	if s.right {
		return &s.dst
	}
	return &s.src
}

// editPort is the port's line editor: digits, backspace, enter, esc.
func (s *traceScreen) editPort(k tea.KeyPressMsg) tea.Cmd {
	switch t := k.String(); {
	case t == "esc":
		s.editing, s.port = false, s.was
	case t == "enter":
		if p, err := strconv.Atoi(s.port); s.port != "" && (err != nil || p < 1 || p > 65535) {
			return report(fmt.Sprintf("port %s: a port is 1 to 65535", s.port))
		}
		s.editing = false
	case t == "backspace":
		s.port = s.port[:max(len(s.port)-1, 0)]
	case len(t) == 1 && t[0] >= '0' && t[0] <= '9' && len(s.port) < 5:
		s.port += t
	}
	return nil
}

// request is what the pickers say, as the lab takes it; what is the
// trace in `kinn trace`'s own arguments.
func (s *traceScreen) request() (r lab.TraceRequest, what string, err error) {
	src, dst := s.src.row(), s.dst.row()
	if src == nil || dst == nil {
		return r, "", errors.New("trace: choose a source and a destination first")
	}
	r = lab.TraceRequest{Src: src.data.(lab.Target), Dst: dst.key, Namespace: "default", Proto: protos[s.proto], Timeout: traceTimeout}
	if s.port != "" {
		p, _ := strconv.Atoi(s.port) // checked when typed
		r.Port = uint16(p)
	}
	return r, src.key + " -> " + dst.key, nil
}

// command is the `kinn trace` command line of the pickers' choice.
func (s *traceScreen) command() string {
	src, dst := s.src.chosen, s.dst.chosen
	if src == "" || dst == "" {
		return ""
	}
	out := "kinn trace " + src + " " + dst
	if p := protos[s.proto]; p != "tcp" {
		out += " --proto " + p
	}
	if s.port != "" {
		out += " --port " + s.port
	}
	return out
}

// start runs the trace in a command: the UI goes on while the probe is
// out. Its context is the program's, so quitting cancels it too.
func (s *traceScreen) start() tea.Cmd {
	if s.run != nil {
		return report("a trace is running: esc cancels it")
	}
	r, what, err := s.request()
	if err != nil {
		return report(err.Error())
	}
	ctx, cancel := context.WithCancel(s.sh.f.ctx)
	s.seq++
	run := &traceRun{id: s.seq, what: what, cancel: cancel, done: make(chan struct{})}
	s.run, s.showing = run, false
	src := s.sh.f.src
	return func() tea.Msg {
		defer close(run.done)
		defer cancel()
		return runTrace(ctx, src, r, traceMsg{id: run.id, what: what})
	}
}

// runTrace calls the source; a panic becomes an error rather than a crash
// with the terminal left in raw mode.
func runTrace(ctx context.Context, src Source, r lab.TraceRequest, m traceMsg) (out traceMsg) {
	defer func() {
		if p := recover(); p != nil {
			out = m
			out.err = fmt.Errorf("panic: %v", p)
		}
	}()
	m.journey, m.title, m.err = src.Trace(ctx, r)
	return m
}

// onlyCancelled reports whether err says the trace was cancelled and
// nothing else (no cleanup error joined to it).
func onlyCancelled(err error) bool {
	switch e := err.(type) {
	case nil:
		return false
	case interface{ Unwrap() []error }:
		for _, x := range e.Unwrap() {
			if !onlyCancelled(x) {
				return false
			}
		}
		return true
	case interface{ Unwrap() error }:
		return onlyCancelled(e.Unwrap())
	}
	return err == context.Canceled
}

// done shows a trace's journey, or says in the status line why there is
// none.
func (s *traceScreen) done(m traceMsg) tea.Cmd {
	if s.run == nil || m.id != s.run.id {
		return nil
	}
	s.run = nil
	switch {
	case onlyCancelled(m.err):
		return status(fmt.Sprintf("trace %s cancelled: its tables are removed", m.what))
	case errors.Is(m.err, context.Canceled):
		// Cancelled, and something else went wrong on the way out (the
		// cleanup's errors are joined to it): say all of it.
		return report(fmt.Sprintf("trace %s cancelled: %v", m.what, m.err))
	case m.err != nil:
		return report(m.err.Error())
	}
	s.res = &traceResult{title: m.title, journey: m.journey}
	s.showing, s.pg = true, pager{}
	return status(fmt.Sprintf("trace %s: %s", m.what, m.journey.Verdict))
}

// status says something in the status line that is no error.
func status(text string) tea.Cmd {
	return func() tea.Msg { return actionMsg{text: text} }
}

// stop cancels a running trace and waits, at most wait, until it has
// removed its tables: Run calls it when the program ends.
func (s *traceScreen) stop(wait time.Duration) {
	if s.run == nil {
		return
	}
	s.run.cancel()
	select {
	case <-s.run.done:
	case <-time.After(wait):
	}
}

func (s *traceScreen) View() string {
	if s.showing && s.res != nil {
		return s.journeyView()
	}
	st := s.sh.st
	if s.sh.snap == nil {
		return s.lines([]string{st.Dim.Render("waiting for the lab…")})
	}
	port := s.port
	switch {
	case s.editing:
		port = st.Prompt.Render(s.port+"▏") + st.Dim.Render("  (digits; empty: the destination's own)")
	case protos[s.proto] == "icmp":
		port = "none (an echo)"
	case port == "":
		port = "the destination's own"
	}
	from, to := cmpOr(s.src.chosen, "?"), cmpOr(s.dst.chosen, "?")
	lines := []string{
		st.Section.Render("TRACE from " + from + " to " + to),
		"  protocol " + st.Prompt.Render(protos[s.proto]) + "   port " + port,
		s.runLine(),
		"",
		s.colTitle("SOURCE", !s.right) + " " + s.colTitle("DESTINATION", s.right),
	}
	if !s.split() {
		return s.lines(append(lines, s.focused().view(st, s.colWidth(), true)...))
	}
	left, right := s.src.view(st, s.colWidth(), !s.right), s.dst.view(st, s.colWidth(), s.right)
	for i := range left {
		lines = append(lines, left[i]+" "+right[i])
	}
	return s.lines(lines)
}

// runLine says what is running, or the command line of the choice.
func (s *traceScreen) runLine() string {
	st := s.sh.st
	switch {
	case s.run != nil && s.run.cancelling:
		return st.Prompt.Render("  cancelling " + s.run.what + "… removing its trace tables")
	case s.run != nil:
		return st.Prompt.Render("  tracing " + s.run.what + "…  esc cancels")
	case s.command() != "":
		return st.Dim.Render("  same as: " + s.command())
	}
	return ""
}

// colTitle is a picker's title, marked where the keys are; narrow, the
// two titles are tabs.
func (s *traceScreen) colTitle(title string, focused bool) string {
	w := s.colWidth()
	if !s.split() {
		w = len(title) + 2
	}
	if focused {
		return s.sh.st.ActiveTab.Render(fit("["+title+"]", w))
	}
	return s.sh.st.Header.Render(fit(" "+title+" ", w))
}

// lines is exactly the screen's height, each line at most its width.
func (s *traceScreen) lines(lines []string) string {
	for i := range lines {
		lines[i] = clip(lines[i], s.w)
	}
	for len(lines) < s.h {
		lines = append(lines, "")
	}
	return strings.Join(lines[:s.h], "\n")
}

// journeyView is the journey under its verdict, which stays in view.
func (s *traceScreen) journeyView() string {
	st, j := s.sh.st, s.res.journey
	verdict := st.Good.Bold(true).Render("✓ " + strings.ToUpper(j.Verdict))
	if j.Verdict != trace.Delivered {
		verdict = st.Bad.Bold(true).Render("✗ " + strings.ToUpper(j.Verdict))
	}
	head := clip(verdict+": "+j.Summary, s.w)
	lines := append([]string{head}, journeyLines(st, s.res.title, j, s.verbose, s.w)...)
	return s.pg.view(lines, s.h)
}
