// Package tui is `kinn tui`: a live terminal view of a lab's network, like
// k9s but for the dataplane — nodes and pods, per-link traffic, conntrack
// flows, each node's service rules with live counters, and events.
//
// Design notes. The root model owns the frame (title bar, status line,
// footer), the help overlay and the filter editor, and routes everything
// else to the focused screen; each screen is a component with Update,
// View and SetSize (soft-serve's pattern), and renders its rows through a
// virtualised list, so only the visible rows cost anything per frame.
//
// Data comes from a Source, never from Update: each kind of data has its
// own loop of fetch command -> dataMsg -> tick -> fetch (bubbletea's
// examples/realtime), each call under a timeout, so a slow or failing
// collector shows as such in the status line while the rest stays live.
// Actions (readiness, delete, scale, send requests) are commands too and
// report in the status line.
//
// Rendering is deterministic: times come from the data or from an injected
// clock, and every highlight also has a character ('>', '↑', '*', '+',
// '-'), so the NO_COLOR rendering and the golden files carry it.
package tui

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
)

// Options configure Run.
type Options struct {
	Lab     string        // shown in the title bar
	Refresh time.Duration // how often each kind of data is fetched; default 1s
	Timeout time.Duration // per fetch; default 2s
	NoColor bool          // no colours; also when the NO_COLOR variable is set
	Input   io.Reader     // default stdin
	Output  io.Writer     // default stdout
	Now     func() time.Time
	// Size sets the initial window size (tests; a terminal reports its own).
	Width, Height int
}

func (o Options) withDefaults() Options {
	if o.Refresh <= 0 {
		o.Refresh = time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if os.Getenv("NO_COLOR") != "" {
		o.NoColor = true
	}
	return o
}

// Run shows the lab full-screen until the user quits or ctx ends. Bubble
// Tea restores the terminal on every way out, a panic included (it then
// returns an error).
func Run(ctx context.Context, src Source, opts Options) error {
	opts = opts.withDefaults()
	var popts []tea.ProgramOption
	popts = append(popts, tea.WithContext(ctx))
	if opts.Input != nil {
		popts = append(popts, tea.WithInput(opts.Input))
	}
	if opts.Output != nil {
		popts = append(popts, tea.WithOutput(opts.Output))
	}
	if opts.NoColor {
		popts = append(popts, tea.WithColorProfile(colorprofile.Ascii))
	}
	if opts.Width > 0 && opts.Height > 0 {
		popts = append(popts, tea.WithWindowSize(opts.Width, opts.Height))
	}
	m := newModel(ctx, src, opts)
	_, err := tea.NewProgram(m, popts...).Run()
	// A trace still out is cancelled; its tables go before we return.
	m.trace.stop(5 * time.Second)
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return nil // the caller asked us to stop
	}
	return err
}

// shared is what the screens have in common: styles, the clock, the data
// as last fetched, and the fetcher to run commands with.
type shared struct {
	st  Styles
	now func() time.Time
	f   *fetcher

	snap   *Snapshot
	rates  []Rate
	flows  []Flow
	events []Event
	nm     *names // for snap, built on first use
}

// screen is one of the six views.
type screen interface {
	Title() string
	SetSize(w, h int)
	Update(msg tea.Msg) tea.Cmd // keys the root left alone, and every dataMsg
	View() string               // exactly the height given to SetSize
	SetFilter(f string)
	Keys() []key.Binding // its own keys, for the footer and the help
	Back() bool          // handles esc if it has somewhere to go back to
	Modal() bool         // a prompt is open: it gets every key
	setVisible(v bool)   // shown or hidden: a hidden screen lays out its data when shown
}

type model struct {
	sh      *shared
	lab     string
	screens []screen
	rules   *rulesScreen
	trace   *traceScreen
	active  int
	w, h    int

	help      bool
	filtering bool
	filters   []string // per screen

	errs   [numKinds]error
	ticks  [numKinds]int // per kind, to thin out the hidden screens' loops
	status string
	failed bool // status is an error

	frame string // the last render, "" once anything may have changed it
}

func newModel(ctx context.Context, src Source, opts Options) *model {
	opts = opts.withDefaults()
	sh := &shared{st: NewStyles(!opts.NoColor), now: opts.Now,
		f: &fetcher{ctx: ctx, src: src, timeout: opts.Timeout, every: opts.Refresh}}
	r, tr := newRulesScreen(sh), newTraceScreen(sh)
	m := &model{sh: sh, lab: opts.Lab, rules: r, trace: tr,
		screens: []screen{newClusterScreen(sh), newTrafficScreen(sh), newFlowsScreen(sh), r, newEventsScreen(sh), tr}}
	m.filters = make([]string, len(m.screens))
	m.screens[0].setVisible(true)
	m.resize(max(opts.Width, 80), max(opts.Height, 24))
	return m
}

// wants says whether a kind of data is worth fetching now: everything for
// the screen shown; while hidden, the snapshot every 5th tick (the other
// screens only need its node list) and the rates every 2nd (so the
// sparklines have a past when the Traffic screen opens); the rest not at
// all. With 1,000 pods the collectors are most of the UI's cost.
func (m *model) wants(k kind) bool {
	m.ticks[k]++
	switch {
	case int(k) == m.active:
		return true
	case m.drill(k):
		return true
	case k == kindSnapshot:
		return m.ticks[k]%5 == 0
	case k == kindRates:
		return m.ticks[k]%2 == 0
	}
	return false
}

// drill says whether the active screen's drill-down shows kind k too.
func (m *model) drill(k kind) bool {
	d, ok := m.screens[m.active].(interface{ alsoShows(kind) bool })
	return ok && d.alsoShows(k)
}

// rulesNode is whose rules to fetch: the node a drill-down shows, else the
// Rules screen's.
func (m *model) rulesNode() string {
	if d, ok := m.screens[m.active].(interface{ rulesNode() string }); ok {
		if n := d.rulesNode(); n != "" {
			return n
		}
	}
	return m.rules.node()
}

func (m *model) Init() tea.Cmd {
	cmds := make([]tea.Cmd, 0, numKinds)
	for k := range numKinds {
		cmds = append(cmds, m.sh.f.fetch(k, m.rulesNode(), true))
	}
	return tea.Batch(cmds...)
}

func (m *model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	// A tick only starts a fetch: the frame stays as it is. Anything else
	// may change it.
	if _, tick := msg.(tickMsg); !tick {
		m.frame = ""
	}
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.resize(msg.Width, msg.Height)
	case tea.KeyPressMsg:
		return m, m.key(msg)
	case tickMsg:
		if !m.wants(msg.kind) {
			return m, m.sh.f.tick(msg.kind) // keep the loop, skip the work
		}
		return m, m.sh.f.fetch(msg.kind, m.rulesNode(), true)
	case dataMsg:
		return m, m.data(msg)
	case describeMsg:
		return m, m.screens[0].Update(msg)
	case traceMsg:
		return m, m.trace.Update(msg)
	case traceFromMsg:
		cmd := m.show(len(m.screens) - 1)
		return m, tea.Batch(cmd, m.trace.Update(msg))
	case actionMsg:
		m.status, m.failed = msg.text, msg.err != nil
		if msg.err != nil {
			m.status = msg.err.Error()
		}
		// An action changes the lab: show it now rather than at the next tick.
		return m, m.sh.f.fetch(kindSnapshot, "", false)
	}
	return m, nil
}

// data stores a fetch's result and lets every screen see it.
func (m *model) data(msg dataMsg) tea.Cmd {
	m.errs[msg.kind] = msg.err
	if msg.err == nil {
		switch msg.kind {
		case kindSnapshot:
			m.sh.snap = msg.snap
		case kindRates:
			m.sh.rates = msg.rates
		case kindFlows:
			m.sh.flows = msg.flows
		case kindEvents:
			m.sh.events = msg.events
		}
	}
	cmds := []tea.Cmd{}
	for _, s := range m.screens {
		cmds = append(cmds, s.Update(msg))
	}
	if msg.rearm {
		cmds = append(cmds, m.sh.f.tick(msg.kind))
	}
	return tea.Batch(cmds...)
}

// key handles the keys the frame owns and passes the rest on.
func (m *model) key(msg tea.KeyPressMsg) tea.Cmd {
	s := m.screens[m.active]
	switch {
	case msg.String() == "ctrl+c":
		return tea.Quit
	case m.help:
		m.help = false // any key closes the help
		return nil
	case m.filtering:
		m.editFilter(msg)
		return nil
	case s.Modal():
		return s.Update(msg)
	case key.Matches(msg, keys.Quit):
		return tea.Quit
	case key.Matches(msg, keys.Help):
		m.help = true
	case key.Matches(msg, keys.Filter):
		m.filtering = true
	case key.Matches(msg, keys.Next):
		return m.show((m.active + 1) % len(m.screens))
	case key.Matches(msg, keys.Prev):
		return m.show((m.active + len(m.screens) - 1) % len(m.screens))
	case key.Matches(msg, keys.Screen):
		return m.show(int(msg.String()[0] - '1'))
	case key.Matches(msg, keys.Back):
		if !s.Back() {
			m.setFilter("")
		}
	default:
		return s.Update(msg)
	}
	return nil
}

// show focuses screen i and fetches its data at once: while hidden, its
// loop skipped the work.
func (m *model) show(i int) tea.Cmd {
	if i == m.active {
		return nil
	}
	m.screens[m.active].setVisible(false)
	m.active = i
	m.screens[i].setVisible(true)
	k := kindSnapshot // the Trace screen's pickers are the snapshot's
	if i < int(numKinds) {
		k = kind(i)
	}
	return m.sh.f.fetch(k, m.rulesNode(), false)
}

// editFilter is the '/' line editor: the screen filters as you type.
func (m *model) editFilter(msg tea.KeyPressMsg) {
	f := m.filters[m.active]
	switch msg.String() {
	case "enter":
		m.filtering = false
	case "esc":
		m.filtering = false
		f = ""
	case "backspace":
		if r := []rune(f); len(r) > 0 {
			f = string(r[:len(r)-1])
		}
	case "ctrl+u":
		f = ""
	default:
		if msg.Text != "" {
			f += msg.Text
		}
	}
	m.setFilter(f)
}

func (m *model) setFilter(f string) {
	m.filters[m.active] = f
	m.screens[m.active].SetFilter(f)
}

func (m *model) resize(w, h int) {
	m.w, m.h = w, h
	for _, s := range m.screens {
		s.SetSize(w, m.bodyHeight())
	}
}

// The frame: a title bar, the body, a status line and a footer.
func (m *model) bodyHeight() int { return max(m.h-3, 1) }

func (m *model) View() tea.View {
	if m.frame == "" {
		m.frame = m.render()
	}
	v := tea.NewView(m.frame)
	v.AltScreen = true
	v.WindowTitle = "kinn tui " + m.lab
	return v
}

func (m *model) render() string {
	var b strings.Builder
	b.WriteString(m.titleBar())
	b.WriteByte('\n')
	if m.help {
		b.WriteString(m.helpView())
	} else {
		b.WriteString(m.screens[m.active].View())
	}
	b.WriteByte('\n')
	b.WriteString(m.statusLine())
	b.WriteByte('\n')
	b.WriteString(m.footer())
	return b.String()
}

func (m *model) titleBar() string {
	st := m.sh.st
	name := " kinn"
	if m.lab != "" {
		name += " · " + m.lab
	}
	parts := []string{st.Title.Render(name + " ")}
	for i, s := range m.screens {
		label := " " + string(rune('1'+i)) + " " + s.Title() + " "
		if i == m.active {
			parts = append(parts, st.ActiveTab.Render("["+label[1:len(label)-1]+"]"))
		} else {
			parts = append(parts, st.Tab.Render(label))
		}
	}
	return clip(strings.Join(parts, ""), m.w)
}

// statusLine shows the filter being edited or kept, the last action's
// outcome, and every failing data kind.
func (m *model) statusLine() string {
	st := m.sh.st
	var parts []string
	if f := m.filters[m.active]; m.filtering {
		parts = append(parts, st.Prompt.Render("/"+f+"▏"))
	} else if f != "" {
		parts = append(parts, st.Prompt.Render("filter: "+f))
	}
	if m.status != "" {
		if m.failed {
			parts = append(parts, st.Error.Render("! "+m.status))
		} else {
			parts = append(parts, st.Status.Render(m.status))
		}
	}
	for k, err := range m.errs {
		if err != nil {
			parts = append(parts, st.Error.Render(kind(k).String()+": "+err.Error()))
		}
	}
	return clip(strings.Join(parts, "  "), m.w)
}

func (m *model) footer() string {
	bs := append([]key.Binding{keys.Help}, m.screens[m.active].Keys()...)
	bs = append(bs, keys.Filter, keys.Quit)
	return m.sh.st.Footer.Render(clip(shortHelp(bs...), m.w))
}

// helpView lists every key: the frame's, then each screen's.
func (m *model) helpView() string {
	st := m.sh.st
	var lines []string
	add := func(title string, bs []key.Binding) {
		lines = append(lines, st.Section.Render(title))
		for _, b := range bs {
			lines = append(lines, "  "+fit(b.Help().Key, 12)+b.Help().Desc)
		}
	}
	add("Everywhere", keys.global())
	for i, s := range m.screens {
		if ks := s.Keys(); len(ks) > 0 {
			add(string(rune('1'+i))+" "+s.Title(), ks)
		}
	}
	lines = append(lines, "", "  In the filter: type to filter, enter keeps it, esc clears it.",
		"  With a pod selected: + and - scale the Deployment it belongs to", "  (<deployment>-<hash>-<suffix>).",
		"  Trace: p cycles tcp/udp/icmp; esc cancels a trace out, or leaves", "  its journey; v there shows the detail (kinn trace -v).",
		st.Dim.Render("any key closes this help"))
	// Two columns when the window is wide enough, else as many as fit.
	h := m.bodyHeight()
	var out []string
	if len(lines) > h && m.w >= 70 {
		half := (len(lines) + 1) / 2
		for i := range half {
			r := ""
			if half+i < len(lines) {
				r = lines[half+i]
			}
			out = append(out, fit(lines[i], m.w/2)+r)
		}
	} else {
		out = lines
	}
	if len(out) > h {
		out = out[:h]
	}
	for i := range out {
		out[i] = clip(out[i], m.w)
	}
	for len(out) < h {
		out = append(out, "")
	}
	return strings.Join(out, "\n")
}
