package tui

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Routine CNI calls: the runtime runs GC and STATUS on every node after
// each change (about six lines a change), and when they succeed they say
// nothing a reader needs one by one. The Events screen folds a run of
// them into one row ("CNI GC/STATUS on 3 nodes: ok (6 calls)"); a failed
// one is never folded, and the a key shows them all.

// routineWindow is how far apart routine calls may be to share a row.
const routineWindow = 10 * time.Second

func routine(ev *Event) bool {
	return ev.Call != nil && (ev.Call.Command == "GC" || ev.Call.Command == "STATUS") && ev.Call.OK()
}

// eventRow is an event, or a fold of routine ones (newest first).
type eventRow struct {
	ev     *Event
	folded []*Event
}

// foldRoutine folds runs of routine events (evs newest first) that lie
// within routineWindow of the run's newest; other events between them do
// not break a run, they stay where they are.
func foldRoutine(evs []*Event) []eventRow {
	out := make([]eventRow, 0, len(evs))
	open := -1 // the index in out of the fold being filled
	for _, ev := range evs {
		if !routine(ev) {
			out = append(out, eventRow{ev: ev})
			continue
		}
		if open >= 0 && out[open].folded[0].Time.Sub(ev.Time) <= routineWindow {
			out[open].folded = append(out[open].folded, ev)
			continue
		}
		out = append(out, eventRow{folded: []*Event{ev}})
		open = len(out) - 1
	}
	// A fold of one is that event.
	for i := range out {
		if len(out[i].folded) == 1 {
			out[i] = eventRow{ev: out[i].folded[0]}
		}
	}
	return out
}

// summary is the fold's message: which commands, on how many nodes.
func (r eventRow) summary() string {
	var cmds, nodes []string
	for _, ev := range r.folded {
		cmds = append(cmds, ev.Call.Command)
		nodes = append(nodes, ev.Call.Node)
	}
	slices.Sort(cmds)
	slices.Sort(nodes)
	n := len(slices.Compact(nodes))
	s := "s"
	if n == 1 {
		s = ""
	}
	return fmt.Sprintf("%s on %d node%s: ok (%d calls; a shows each)", strings.Join(slices.Compact(cmds), "/"), n, s, len(r.folded))
}
