package tui

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"kinn.dev/kinn/lab"
)

var rulesKeys = struct{ NextNode, PrevNode key.Binding }{
	NextNode: key.NewBinding(key.WithKeys("n", "right", "l"), key.WithHelp("n/→", "next node")),
	PrevNode: key.NewBinding(key.WithKeys("p", "left", "h"), key.WithHelp("p/←", "previous node")),
}

// diffHold is how long a frontend or endpoint that appeared or went away
// stays marked '+' or '-'.
const diffHold = 5 * time.Second

// rulesScreen is one node's dataplane: Service frontends with their chains
// and counters and their endpoints, then routes, neighbours and FDB. A
// counter that grew since the previous frame is marked '↑'; a frontend or
// endpoint that appeared or went away is marked '+' or '-' for diffHold.
type rulesScreen struct {
	base
	nodeIdx int
	cur     *lab.RulesView      // the last good view of node()
	grew    map[string]bool     // keys whose counter grew in the last frame
	changes map[string]ruleDiff // appeared or went away, recently
}

type ruleDiff struct {
	sign    byte // '+' or '-'
	at      time.Time
	front   lab.FrontendView // what went away, to keep showing it
	ep      lab.EndpointView
	isFront bool
}

func newRulesScreen(sh *shared) *rulesScreen {
	r := &rulesScreen{base: base{sh: sh}, changes: map[string]ruleDiff{}}
	r.layout = r.rebuild
	r.rebuild()
	return r
}

func (r *rulesScreen) Title() string { return "Rules" }

func (r *rulesScreen) Keys() []key.Binding {
	return []key.Binding{rulesKeys.NextNode, rulesKeys.PrevNode}
}

// node is the node the screen shows, "" before the first snapshot.
func (r *rulesScreen) node() string {
	if r.sh.snap == nil || len(r.sh.snap.Nodes) == 0 {
		return ""
	}
	return r.sh.snap.Nodes[min(r.nodeIdx, len(r.sh.snap.Nodes)-1)].Name
}

// The list sits under a one-line node bar.
func (r *rulesScreen) SetSize(w, h int) {
	r.w, r.h = w, h
	r.l.setHeight(h - 1)
	r.rebuild()
}

func (r *rulesScreen) View() string {
	return r.bar() + "\n" + strings.Join(r.l.view(r.sh.st, r.w), "\n")
}

func (r *rulesScreen) bar() string {
	st := r.sh.st
	if r.node() == "" {
		return st.Dim.Render("no nodes yet")
	}
	n := len(r.sh.snap.Nodes)
	s := fmt.Sprintf("NODE %s (%d/%d, n/p for others)", r.node(), min(r.nodeIdx, n-1)+1, n)
	if v := r.cur; v != nil {
		s += fmt.Sprintf("  ip %s  pods %s", v.IP, v.PodCIDR)
	}
	return st.Title.Render(clip(s, r.w))
}

func (r *rulesScreen) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case dataMsg:
		switch {
		case msg.kind == kindSnapshot && msg.err == nil:
			if r.cur != nil && r.cur.Node != r.node() {
				r.reset() // the node list changed under us
			}
			r.changed()
		case msg.kind == kindRules && msg.err == nil && msg.rules != nil && msg.node == r.node():
			r.observe(msg.rules)
			r.rebuild()
		}
		return nil
	case tea.KeyPressMsg:
		if r.nav(msg) || r.node() == "" {
			return nil
		}
		n := len(r.sh.snap.Nodes)
		switch {
		case key.Matches(msg, rulesKeys.NextNode):
			r.nodeIdx = (min(r.nodeIdx, n-1) + 1) % n
		case key.Matches(msg, rulesKeys.PrevNode):
			r.nodeIdx = (min(r.nodeIdx, n-1) + n - 1) % n
		default:
			return nil
		}
		r.reset()
		r.rebuild()
		// Fetch the new node now; the periodic loop picks it up too.
		return r.sh.f.fetch(kindRules, r.node(), false)
	}
	return nil
}

func (r *rulesScreen) reset() {
	r.cur, r.grew = nil, nil
	clear(r.changes)
}

func frontKey(f *lab.FrontendView) string { return f.Service + " " + f.Kind + " " + f.Frontend }
func epKey(f *lab.FrontendView, e *lab.EndpointView) string {
	return frontKey(f) + " " + e.Addr
}

// observe compares a new view with the current one: which counters grew,
// what appeared, what went away.
func (r *rulesScreen) observe(v *lab.RulesView) {
	now := r.sh.now()
	for k, d := range r.changes {
		if now.Sub(d.at) >= diffHold {
			delete(r.changes, k)
		}
	}
	old := r.cur
	r.cur = v
	r.grew = map[string]bool{}
	if old == nil {
		return // the first frame: nothing to compare with
	}
	type counted struct {
		pkts  uint64
		front *lab.FrontendView
		ep    *lab.EndpointView
	}
	before := map[string]counted{}
	for i := range old.Services {
		f := &old.Services[i]
		before[frontKey(f)] = counted{f.Packets, f, nil}
		for j := range f.Endpoints {
			before[epKey(f, &f.Endpoints[j])] = counted{f.Endpoints[j].Packets, f, &f.Endpoints[j]}
		}
	}
	seen := func(k string, pkts uint64) {
		b, ok := before[k]
		switch {
		case !ok:
			r.changes[k] = ruleDiff{sign: '+', at: now}
		case pkts > b.pkts:
			r.grew[k] = true
		}
		delete(before, k)
	}
	for i := range v.Services {
		f := &v.Services[i]
		seen(frontKey(f), f.Packets)
		for j := range f.Endpoints {
			seen(epKey(f, &f.Endpoints[j]), f.Endpoints[j].Packets)
		}
	}
	r.tableGrew(old, v)
	for k, b := range before {
		d := ruleDiff{sign: '-', at: now, front: *b.front, isFront: b.ep == nil}
		if b.ep != nil {
			d.ep = *b.ep
		}
		r.changes[k] = d
	}
}

// tableGrew marks the table's chains whose counter grew.
func (r *rulesScreen) tableGrew(old, v *lab.RulesView) {
	before := map[string]uint64{}
	for i := range old.Table {
		if o := &old.Table[i]; o.Packets != nil {
			before[tableKey(o)] = *o.Packets
		}
	}
	for i := range v.Table {
		o := &v.Table[i]
		if b, ok := before[tableKey(o)]; ok && o.Packets != nil && *o.Packets > b {
			r.grew[tableKey(o)] = true
		}
	}
}

// withDrift appends a line's drift state (MISSING in the kernel, ...).
func withDrift(cell, drift string) string {
	if drift == "" {
		return cell
	}
	return strings.TrimSpace(cell + " " + drift)
}

func (r *rulesScreen) rebuild() {
	v := r.cur
	if v == nil {
		msg := "waiting for rules…"
		if n := r.node(); n != "" {
			msg = "waiting for " + n + "'s rules…"
		}
		r.l.setRows(r.message(msg))
		return
	}
	rows := r.driftRows(nil, v)
	rows = r.serviceRows(rows, v)
	rows = r.entryRows(rows, v)
	rows = r.tableRows(rows, v)
	r.l.setRows(rows)
}

// live is the recent change of a key, if it is still shown.
func (r *rulesScreen) live(k string) (ruleDiff, bool) {
	d, ok := r.changes[k]
	return d, ok && r.sh.now().Sub(d.at) < diffHold
}

// count is a counter, marked '↑' if it grew in the last frame.
func (r *rulesScreen) count(k string, n uint64) string {
	if r.grew[k] {
		return "↑" + humanCount(float64(n))
	}
	return humanCount(float64(n))
}

func (r *rulesScreen) driftRows(rows []row, v *lab.RulesView) []row {
	if len(v.Drift) == 0 {
		return rows
	}
	rows = r.section(rows, fmt.Sprintf("DRIFT (%d): the kernel differs from what kinn wants", len(v.Drift)), nil)
	for _, d := range v.Drift {
		rows = append(rows, row{text: clip(d.State+"  "+d.Summary, r.width()), style: r.sh.st.Removed, selectable: true, key: "drift " + d.Name})
	}
	return rows
}

// ruleLine is one frontend or endpoint line of the SERVICES section.
type ruleLine struct {
	cells  []string
	key    string
	note   string
	shared string // its endpoints' chains are another frontend's too
	drift  bool   // the kernel lacks or has more of it than kinn wants
}

// serviceLines are the frontends with their endpoints, then what went
// away recently, each under the frontend it belonged to or, gone itself,
// at the end.
func (r *rulesScreen) serviceLines(v *lab.RulesView) []ruleLine {
	mark := func(k string) string {
		if d, ok := r.live(k); ok {
			return string(d.sign)
		}
		return " "
	}
	var lines []ruleLine
	shared := sharedChains(v)
	addFront := func(f *lab.FrontendView, sign string) {
		k := frontKey(f)
		if sign == "" {
			sign = mark(k)
		}
		lines = append(lines, ruleLine{cells: []string{sign, f.Service, f.Frontend, withDrift(f.Kind, f.Drift), "", f.Chain,
			r.count(k, f.Packets), humanBytes(float64(f.Bytes))}, key: k, note: f.Note, shared: shared[k], drift: f.Drift != ""})
	}
	addEp := func(f *lab.FrontendView, e *lab.EndpointView, sign string) {
		k := epKey(f, e)
		if sign == "" {
			sign = mark(k)
		}
		use := "  "
		if e.Used {
			use = "=>"
		}
		// The Service's own namespace goes without saying.
		pod := strings.TrimPrefix(e.Pod, strings.SplitN(f.Service, "/", 2)[0]+"/")
		lines = append(lines, ruleLine{cells: []string{sign, "  " + use + " " + pod, e.Addr, withDrift(e.State, e.Drift), e.Node,
			e.Chain, r.count(k, e.Packets), humanBytes(float64(e.Bytes))}, key: k, drift: e.Drift != ""})
	}
	// Gone things, by the frontend they belonged to, in a stable order.
	var goneKeys []string
	for k, d := range r.changes {
		if _, ok := r.live(k); ok && d.sign == '-' {
			goneKeys = append(goneKeys, k)
		}
	}
	slices.Sort(goneKeys)
	current := map[string]bool{}
	for i := range v.Services {
		current[frontKey(&v.Services[i])] = true
	}
	for i := range v.Services {
		f := &v.Services[i]
		addFront(f, "")
		for j := range f.Endpoints {
			addEp(f, &f.Endpoints[j], "")
		}
		for _, k := range goneKeys {
			if d := r.changes[k]; !d.isFront && frontKey(&d.front) == frontKey(f) {
				addEp(f, &d.ep, "-")
			}
		}
	}
	for _, k := range goneKeys {
		if d := r.changes[k]; d.isFront && !current[k] {
			addFront(&d.front, "-")
		}
	}
	return lines
}

func (r *rulesScreen) serviceRows(rows []row, v *lab.RulesView) []row {
	st := r.sh.st
	c := newColumns(" ", "SERVICE / ENDPOINT", "FRONTEND / ADDR", "KIND/STATE", "NODE", "CHAIN", "PKTS", "BYTES").
		capAt(1, 44).capAt(5, 40).alignRight(6, 7).dropFirst(4, 7).keepWhole(2)
	lines := r.serviceLines(v)
	for _, l := range lines {
		c.measure(l.cells)
	}
	c.fitTo(r.width())
	rows = r.section(rows, fmt.Sprintf("SERVICES (%d frontends)  => used by this node  ↑ grew  +/- changed", len(v.Services)), c)
	for _, l := range lines {
		rw := row{text: c.row(l.cells), selectable: true, key: l.key}
		switch {
		case l.cells[0] == "+":
			rw.style = st.Added
		case l.cells[0] == "-" || l.drift:
			rw.style = st.Removed
		case r.grew[l.key]:
			rw.style = st.Grew
		}
		rows = append(rows, rw)
		if l.note != "" {
			rows = append(rows, row{text: "       # " + l.note, style: st.Dim, selectable: true, key: l.key + " note"})
		}
		if l.shared != "" {
			rows = append(rows, row{text: "       # " + l.shared, style: st.Dim, selectable: true, key: l.key + " shared"})
		}
	}
	return rows
}

// entryRows are the routes, neighbours and FDB entries.
func (r *rulesScreen) entryRows(rows []row, v *lab.RulesView) []row {
	for _, sec := range []struct {
		title string
		es    []lab.EntryView
	}{{"ROUTES", v.Routes}, {"NEIGHBOURS", v.Neigh}, {"FDB", v.FDB}} {
		ec := newColumns("ENTRY", "NOTE").capAt(0, 72)
		for _, e := range sec.es {
			ec.measure([]string{e.Entry, withDrift("# "+e.Note, e.State)})
		}
		ec.fitTo(r.width())
		rows = r.section(rows, fmt.Sprintf("%s (%d)", sec.title, len(sec.es)), nil)
		for _, e := range sec.es {
			note := ""
			if e.Note != "" {
				note = "# " + e.Note
			}
			rw := row{text: ec.row([]string{e.Entry, withDrift(note, e.State)}), selectable: true, key: sec.title + " " + e.Entry}
			if e.State != "" {
				rw.style = r.sh.st.Removed
			}
			rows = append(rows, rw)
		}
	}
	return rows
}

func tableKey(o *lab.TableObjectView) string { return "table " + o.Name }

// tableWideEnough is the width at which the TABLE section shows hooks too:
// the longest name and hook, the figures and a meaning of about 55 cells.
const tableWideEnough = 120

// tableRows are the table's fixed chains and maps and its per-Service
// families, one line each: hook, counter (or size) and what it is for, in
// short; `kinn rules` prints the whole meaning.
func (r *rulesScreen) tableRows(rows []row, v *lab.RulesView) []row {
	if len(v.Table) == 0 {
		return rows
	}
	c := newColumns("NAME", "HOOK", "PKTS", "SIZE", "WHAT FOR").capAt(0, 28).alignRight(2, 3).dropFirst(1)
	// The meaning matters more than the hook (its name says it): the hook
	// goes first when the two do not both fit.
	c.hidden[1] = r.width() < tableWideEnough
	cells := make([][]string, len(v.Table))
	for i := range v.Table {
		o := &v.Table[i]
		pkts, size := "", ""
		if o.Packets != nil {
			pkts = r.count(tableKey(o), *o.Packets)
		}
		switch {
		case o.Elements != nil:
			size = fmt.Sprint(*o.Elements)
		case o.Count != nil:
			size = fmt.Sprint(*o.Count)
		}
		cells[i] = []string{o.Name, o.Hook, pkts, size, o.Short}
		c.measure(cells[i])
	}
	c.fitTo(r.width())
	rows = r.section(rows, fmt.Sprintf("TABLE ip kinn (%d) as a packet meets it; `kinn rules` says more", len(v.Table)), c)
	for i := range v.Table {
		rw := row{text: c.row(cells[i]), selectable: true, key: tableKey(&v.Table[i])}
		if r.grew[rw.key] {
			rw.style = r.sh.st.Grew
		}
		rows = append(rows, rw)
	}
	return rows
}
