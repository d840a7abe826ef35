package tui

import (
	"strings"

	"charm.land/lipgloss/v2"
)

// row is one line of a screen. Section titles and column headers are rows
// too (not selectable), so a screen is one list and scrolling is uniform.
type row struct {
	text       string                   // plain text: what the filter matches and the cursor shows
	styled     string                   // text with styles; "" means style.Render(text)
	styler     func(text string) string // styles text when shown, when set (dear styles: only visible rows pay)
	style      lipgloss.Style
	selectable bool
	keep       bool   // survives filtering (titles, headers)
	key        string // identity, so the cursor stays on it across refreshes
	data       any    // what the row is about (*PodInfo, *NodeInfo, ...)
}

// list is a virtualised, filterable list of rows with a cursor: View
// renders only the rows between offset and offset+height, so a lab with
// thousands of pods costs no more per frame than one with five.
type list struct {
	all    []row
	rows   []row // all, filtered
	filter string
	cursor int // index into rows; -1 when nothing is selectable
	offset int
	height int
}

// setRows replaces the rows. The cursor stays on the row it was on (by
// key), except on the first row: a cursor nobody moved stays at the top,
// so lists that grow at the top (Flows and Events, newest first) keep
// their titles in view instead of following an old row down.
func (l *list) setRows(rows []row) {
	key := ""
	if r := l.selected(); r != nil && l.cursor != l.nearest(0, 1) {
		key = r.key
	}
	l.all = rows
	l.apply(key)
}

func (l *list) setFilter(f string) {
	key := ""
	if r := l.selected(); r != nil {
		key = r.key
	}
	l.filter = f
	l.apply(key)
}

func (l *list) setHeight(h int) {
	l.height = max(h, 1)
	l.scroll()
}

// apply filters and puts the cursor back on the row with key, or on the
// first selectable row.
func (l *list) apply(key string) {
	f := strings.ToLower(l.filter)
	l.rows = l.rows[:0]
	for _, r := range l.all {
		if f == "" || r.keep || (r.selectable && strings.Contains(strings.ToLower(r.text), f)) {
			l.rows = append(l.rows, r)
		}
	}
	old := l.cursor
	if key == "" {
		old = 0 // no row to follow: the top
	}
	l.cursor = -1
	if key != "" {
		for i, r := range l.rows {
			if r.selectable && r.key == key {
				l.cursor = i
				break
			}
		}
	}
	if l.cursor < 0 {
		l.cursor = l.nearest(min(max(old, 0), len(l.rows)-1), 1)
	}
	l.scroll()
}

// nearest is the first selectable row from i in direction dir, else in the
// other direction, else -1.
func (l *list) nearest(i, dir int) int {
	for _, d := range []int{dir, -dir} {
		for j := i; j >= 0 && j < len(l.rows); j += d {
			if l.rows[j].selectable {
				return j
			}
		}
	}
	return -1
}

func (l *list) selected() *row {
	if l.cursor < 0 || l.cursor >= len(l.rows) {
		return nil
	}
	return &l.rows[l.cursor]
}

// move moves the cursor by n selectable rows (negative: up).
func (l *list) move(n int) {
	if l.cursor < 0 {
		return
	}
	dir := 1
	if n < 0 {
		dir, n = -1, -n
	}
	for ; n > 0; n-- {
		next := -1
		for j := l.cursor + dir; j >= 0 && j < len(l.rows); j += dir {
			if l.rows[j].selectable {
				next = j
				break
			}
		}
		if next < 0 {
			break
		}
		l.cursor = next
	}
	l.scroll()
}

func (l *list) page(dir int) { l.move(dir * max(l.height-1, 1)) }

func (l *list) home() {
	if c := l.nearest(0, 1); c >= 0 {
		l.cursor = c
	}
	l.scroll()
}

func (l *list) end() {
	if c := l.nearest(len(l.rows)-1, -1); c >= 0 {
		l.cursor = c
	}
	l.scroll()
}

// scroll moves the window so the cursor is in it; at the first selectable
// row it shows the titles above it too.
func (l *list) scroll() {
	if l.height <= 0 {
		return
	}
	if l.cursor >= 0 {
		if l.cursor < l.offset {
			l.offset = l.cursor
		}
		if l.cursor >= l.offset+l.height {
			l.offset = l.cursor - l.height + 1
		}
		if first := l.nearest(0, 1); l.cursor == first && first < l.height {
			l.offset = 0
		}
	}
	l.offset = min(l.offset, max(len(l.rows)-l.height, 0))
	l.offset = max(l.offset, 0)
}

// view renders exactly height lines, each w cells wide at most.
func (l *list) view(st Styles, w int) []string {
	out := make([]string, 0, l.height)
	for i := l.offset; i < len(l.rows) && len(out) < l.height; i++ {
		r := l.rows[i]
		switch {
		case i == l.cursor:
			out = append(out, st.Cursor.Render(fit("> "+r.text, w)))
		case r.styler != nil:
			out = append(out, clip("  "+r.styler(r.text), w))
		case r.styled != "":
			out = append(out, clip("  "+r.styled, w))
		default:
			out = append(out, clip("  "+r.style.Render(r.text), w))
		}
	}
	for len(out) < l.height {
		out = append(out, "")
	}
	return out
}
