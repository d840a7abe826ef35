package tui

import (
	"fmt"
	"slices"
	"strings"

	"kinn.dev/kinn/lab"
)

// picker is one of the Trace screen's two columns: a filterable list of
// what can be traced from (or to), and the one chosen. The choice is a
// row's key, the very argument `kinn trace` takes ("pod/default/client",
// "svc/default/web", "node/kinn-worker:30080"), and it is kept apart from
// the list's cursor: a filter typed to find the destination must not
// change the source chosen before.
type picker struct {
	l      list
	chosen string
}

// setRows replaces the rows, keeping the choice while it exists.
func (p *picker) setRows(rows []row) {
	p.l.all = rows
	p.l.apply(p.chosen)
	if !slices.ContainsFunc(rows, func(r row) bool { return r.selectable && r.key == p.chosen }) {
		p.follow()
	}
}

// setFilter filters the rows; in the focused column the choice follows
// the cursor to the first row that matches.
func (p *picker) setFilter(f string, focused bool) {
	p.l.filter = f
	p.l.apply(p.chosen)
	if focused {
		if r := p.l.selected(); r == nil || r.key != p.chosen {
			p.l.home()
		}
		p.follow()
	}
}

// choose makes key the choice, as `t` on the Cluster screen does.
func (p *picker) choose(key string) {
	p.chosen = key
	p.l.apply(key)
}

// follow makes the row under the cursor the choice.
func (p *picker) follow() {
	p.chosen = ""
	if r := p.l.selected(); r != nil {
		p.chosen = r.key
	}
}

// row is the chosen row, nil when nothing is chosen.
func (p *picker) row() *row {
	for i := range p.l.all {
		if r := &p.l.all[i]; r.selectable && r.key == p.chosen {
			return r
		}
	}
	return nil
}

// view is the column, exactly its height, each line exactly w cells: '>'
// marks the choice, highlighted where the keys move it.
func (p *picker) view(st Styles, w int, focused bool) []string {
	out := make([]string, 0, p.l.height)
	for i := p.l.offset; i < len(p.l.rows) && len(out) < p.l.height; i++ {
		r := p.l.rows[i]
		switch {
		case r.selectable && r.key == p.chosen && focused:
			out = append(out, st.Cursor.Render(fit("> "+r.text, w)))
		case r.selectable && r.key == p.chosen:
			out = append(out, fit("> "+st.Prompt.Render(r.text), w))
		default:
			out = append(out, fit("  "+r.style.Render(r.text), w))
		}
	}
	for len(out) < p.l.height {
		out = append(out, fit("", w))
	}
	return out
}

// pickSection adds a titled group of rows, each a name and a note aligned
// in w cells; data is what the row stands for.
func pickSection(st Styles, rows []row, title string, w int, names, notes []string, data []any) []row {
	if len(names) == 0 {
		return rows
	}
	if len(rows) > 0 {
		rows = append(rows, row{keep: true})
	}
	rows = append(rows, row{text: fmt.Sprintf("%s (%d)", title, len(names)), style: st.Section, keep: true})
	c := newColumns("", "")
	for i := range names {
		c.measure([]string{names[i], notes[i]})
	}
	c.fitTo(w)
	for i := range names {
		rows = append(rows, row{text: c.row([]string{names[i], notes[i]}), selectable: true, key: names[i], data: data[i]})
	}
	return rows
}

// sourceRows are what a probe can be sent from: the pods that have an
// address, the nodes, and the outside world (the switch).
func sourceRows(st Styles, snap *Snapshot, w int) []row {
	var names, notes []string
	var data []any
	for _, p := range sortedPods(snap) {
		names, notes = append(names, "pod/"+p.Namespace+"/"+p.Name), append(notes, p.IP+" on "+p.Node)
		data = append(data, lab.Target{Namespace: p.Namespace, Pod: p.Name})
	}
	rows := pickSection(st, nil, "PODS", w, names, notes, data)
	names, notes, data = nil, nil, nil
	for _, n := range snap.Nodes {
		names, notes = append(names, "node/"+n.Name), append(notes, n.IP)
		data = append(data, lab.Target{Node: n.Name})
	}
	rows = pickSection(st, rows, "NODES", w, names, notes, data)
	return pickSection(st, rows, "OUTSIDE", w, []string{"external"}, []string{"the switch"}, []any{lab.Target{External: true}})
}

// destRows are what a probe can be sent to: Services by their ClusterIP,
// each NodePort on each node, and pods with an address.
func destRows(st Styles, snap *Snapshot, w int) []row {
	var names, notes, npNames, npNotes []string
	for _, s := range snap.Services {
		if s.ClusterIP == "" || s.ClusterIP == "None" {
			continue // headless: nothing to trace to by the Service
		}
		names, notes = append(names, "svc/"+s.Namespace+"/"+s.Name), append(notes, s.ClusterIP+" "+strings.Join(s.Ports, ","))
		for _, port := range s.Ports {
			np, ok := nodePortOf(port)
			if !ok {
				continue
			}
			for _, n := range snap.Nodes {
				npNames = append(npNames, "node/"+n.Name+":"+np)
				npNotes = append(npNotes, s.Namespace+"/"+s.Name+" "+port)
			}
		}
	}
	rows := pickSection(st, nil, "SERVICES", w, names, notes, keysAsData(names))
	rows = pickSection(st, rows, "NODEPORTS", w, npNames, npNotes, keysAsData(npNames))
	names, notes = nil, nil
	for _, p := range sortedPods(snap) {
		names, notes = append(names, "pod/"+p.Namespace+"/"+p.Name), append(notes, strings.TrimSpace(p.IP+" "+strings.Join(p.Ports, ",")))
	}
	return pickSection(st, rows, "PODS", w, names, notes, keysAsData(names))
}

// keysAsData: a destination stands for itself, the argument the lab
// resolves.
func keysAsData(keys []string) []any {
	out := make([]any, len(keys))
	for i, k := range keys {
		out[i] = k
	}
	return out
}

// nodePortOf reads the NodePort of kubectl's "80:30080/TCP".
func nodePortOf(port string) (string, bool) {
	port, _, _ = strings.Cut(port, "/")
	_, np, ok := strings.Cut(port, ":")
	return np, ok
}

// sortedPods are the snapshot's pods that have an address, by namespace
// and name.
func sortedPods(snap *Snapshot) []*PodInfo {
	out := make([]*PodInfo, 0, len(snap.Pods))
	for i := range snap.Pods {
		if snap.Pods[i].IP != "" {
			out = append(out, &snap.Pods[i])
		}
	}
	slices.SortStableFunc(out, byNamespaceName)
	return out
}
