package tui

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"

	tea "charm.land/bubbletea/v2"
)

// flowsScreen is conntrack: client -> service => endpoint, newest first,
// flows seen for the first time marked '*'.
type flowsScreen struct{ base }

func newFlowsScreen(sh *shared) *flowsScreen {
	f := &flowsScreen{base{sh: sh}}
	f.layout = f.rebuild
	f.rebuild()
	return f
}

func (f *flowsScreen) Title() string { return "Flows" }

func (f *flowsScreen) Update(msg tea.Msg) tea.Cmd {
	if d, ok := msg.(dataMsg); ok && d.kind == kindFlows && d.err == nil {
		f.changed()
	}
	f.nav(msg)
	return nil
}

func (f *flowsScreen) rebuild() {
	if f.sh.flows == nil {
		f.l.setRows(f.message("waiting for flows…"))
		return
	}
	if len(f.sh.flows) == 0 {
		f.l.setRows(f.message("no connections tracked right now: send requests with s on the Cluster screen"))
		return
	}
	flows := make([]*Flow, len(f.sh.flows))
	for i := range f.sh.flows {
		flows[i] = &f.sh.flows[i]
	}
	slices.SortStableFunc(flows, func(a, b *Flow) int {
		return cmp.Or(b.Started.Compare(a.Started), cmp.Compare(a.Client, b.Client))
	})
	now := f.sh.now()
	// Names, not addresses: what the lab calls each end, with the port.
	// A narrow window loses the node, protocol, state and note first (a
	// probe's client says "kubelet@node" itself).
	c := newColumns(" ", "CLIENT", "SERVICE", "ENDPOINT", "PROTO", "STATE", "BYTES", "AGE", "NODE", "NOTE").
		capAt(1, 36).capAt(2, 40).capAt(3, 36).alignRight(6, 7).dropFirst(8, 4, 5, 9)
	nm := f.sh.names()
	cells := make([][]string, len(flows))
	nNew := 0
	for i, fl := range flows {
		mark, ep := " ", "=> "+nm.of(fl.Endpoint)
		if fl.New {
			mark = "*"
			nNew++
		}
		if fl.Endpoint == "" {
			ep = "   (not NATed)"
		}
		cells[i] = []string{mark, nm.client(fl), "-> " + nm.service(fl), ep, fl.Proto, fl.State,
			humanBytes(float64(fl.Bytes)), age(now.Sub(fl.Started)), fl.Node, nm.note(fl)}
		c.measure(cells[i])
	}
	c.hidden[9] = !slices.ContainsFunc(cells, func(r []string) bool { return r[9] != "" })
	c.fitTo(f.width())
	rows := f.section(nil, fmt.Sprintf("FLOWS (%d, %d new)", len(flows), nNew), c)
	for i, fl := range flows {
		r := row{text: c.row(cells[i]), selectable: true,
			key: fl.Node + "/" + fl.Proto + "/" + fl.Client + "/" + fl.Service + "/" + strconv.FormatInt(fl.Started.UnixNano(), 10), data: fl}
		if fl.New {
			r.style = f.sh.st.New
		}
		rows = append(rows, r)
	}
	f.l.setRows(rows)
}
