package tui

import (
	"fmt"
	"slices"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// eventsScreen is the lab's events, newest first; enter on a CNI call
// shows the call in full, esc comes back.
type eventsScreen struct {
	base
	detail *callDetail
	all    bool // routine CNI calls one by one, not folded
}

var eventsKeys = struct{ All key.Binding }{
	All: key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "fold/show routine CNI GC/STATUS")),
}

func (e *eventsScreen) Keys() []key.Binding { return []key.Binding{eventsKeys.All} }

func newEventsScreen(sh *shared) *eventsScreen {
	e := &eventsScreen{base: base{sh: sh}}
	e.layout = e.rebuild
	e.rebuild()
	return e
}

func (e *eventsScreen) Title() string { return "Events" }

func (e *eventsScreen) Update(msg tea.Msg) tea.Cmd {
	if d, ok := msg.(dataMsg); ok && d.kind == kindEvents && d.err == nil {
		e.changed()
	}
	if e.detail != nil {
		e.detail.update(msg, e.h)
		return nil
	}
	if k, ok := msg.(tea.KeyPressMsg); ok && key.Matches(k, eventsKeys.All) {
		e.all = !e.all
		e.rebuild()
		return nil
	}
	if k, ok := msg.(tea.KeyPressMsg); ok && key.Matches(k, keys.Enter) {
		if r := e.l.selected(); r != nil {
			if ev, ok := r.data.(*Event); ok && ev.Call != nil {
				e.detail = &callDetail{call: ev.Call}
			}
		}
		return nil
	}
	e.nav(msg)
	return nil
}

func (e *eventsScreen) Back() bool {
	if e.detail == nil {
		return false
	}
	e.detail = nil
	return true
}

func (e *eventsScreen) View() string {
	if e.detail != nil {
		return e.detail.view(e.sh.st, e.w, e.h)
	}
	return e.base.View()
}

func (e *eventsScreen) rebuild() {
	if e.sh.events == nil {
		e.l.setRows(e.message("waiting for events…"))
		return
	}
	evs := make([]*Event, len(e.sh.events))
	for i := range e.sh.events {
		evs[i] = &e.sh.events[i]
	}
	slices.SortStableFunc(evs, func(a, b *Event) int { return b.Time.Compare(a.Time) })
	var ers []eventRow
	if e.all {
		for _, ev := range evs {
			ers = append(ers, eventRow{ev: ev})
		}
	} else {
		ers = foldRoutine(evs)
	}
	now := e.sh.now()
	c := newColumns("TIME", "AGE", "KIND", "MESSAGE").alignRight(1)
	cells := make([][]string, len(ers))
	for i, er := range ers {
		ev, msg := er.ev, ""
		if ev == nil {
			ev, msg = er.folded[0], er.summary()
		} else {
			msg = ev.Message
		}
		cells[i] = []string{ev.Time.Format("15:04:05"), age(now.Sub(ev.Time)), ev.Kind, msg}
		c.measure(cells[i])
	}
	c.fitTo(e.width())
	title := fmt.Sprintf("EVENTS (%d) newest first", len(evs))
	if len(ers) < len(evs) {
		title += ", routine CNI calls folded (a: show each)"
	}
	rows := e.section(nil, title, c)
	for i, er := range ers {
		ev := er.ev
		if ev == nil {
			ev = er.folded[0]
		}
		r := row{text: c.row(cells[i]), selectable: true, key: fmt.Sprint(ev.Time.UnixNano(), ev.Kind, ev.Message), data: ev}
		if er.ev == nil {
			r.key, r.data, r.style = "fold "+r.key, nil, e.sh.st.Dim
		}
		if ev.Kind == "drift" || ev.Call != nil && !ev.Call.OK() {
			r.style = e.sh.st.Bad
		}
		rows = append(rows, r)
	}
	e.l.setRows(rows)
}
