package tui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// base is what every screen has: the shared data, a list and a size. The
// screens embed it and override what they do differently.
type base struct {
	sh     *shared
	l      list
	w, h   int
	layout func() // lays the rows out again, for new data or a new width

	// A hidden screen does not lay out the data that arrives for it (the
	// Traffic screen's 1,000 rows every other second): it does so once,
	// when shown.
	visible, stale bool
}

// changed lays the rows out now if the screen is shown, else when it is.
func (b *base) changed() {
	if b.visible {
		b.layout()
	} else {
		b.stale = true
	}
}

func (b *base) setVisible(v bool) {
	b.visible = v
	if v && b.stale {
		b.stale = false
		b.layout()
	}
}

func (b *base) SetSize(w, h int) {
	b.w, b.h = w, h
	b.l.setHeight(h)
	b.layout()
}

// width is what a row may use, less the cursor's two cells.
func (b *base) width() int { return max(b.w-2, 10) }

func (b *base) SetFilter(f string)  { b.l.setFilter(f) }
func (b *base) Back() bool          { return false }
func (b *base) Modal() bool         { return false }
func (b *base) Keys() []key.Binding { return nil }
func (b *base) View() string        { return strings.Join(b.l.view(b.sh.st, b.w), "\n") }

// nav moves the cursor for the movement keys and says whether it did.
func (b *base) nav(msg tea.Msg) bool { return navList(&b.l, msg) }

// navList moves l's cursor for the movement keys and says whether it did.
func navList(l *list, msg tea.Msg) bool {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return false
	}
	switch {
	case key.Matches(k, keys.Up):
		l.move(-1)
	case key.Matches(k, keys.Down):
		l.move(1)
	case key.Matches(k, keys.PageUp):
		l.page(-1)
	case key.Matches(k, keys.PageDown):
		l.page(1)
	case key.Matches(k, keys.Home):
		l.home()
	case key.Matches(k, keys.End):
		l.end()
	default:
		return false
	}
	return true
}

// section is a title row, then a column header row: both survive filters.
func (b *base) section(rows []row, title string, c *columns) []row {
	if len(rows) > 0 {
		rows = append(rows, row{keep: true})
	}
	rows = append(rows, row{text: title, style: b.sh.st.Section, keep: true})
	if c != nil {
		rows = append(rows, row{text: c.header(), style: b.sh.st.Header, keep: true})
	}
	return rows
}

// message is a single dim line, for "waiting for data".
func (b *base) message(text string) []row {
	return []row{{text: text, style: b.sh.st.Dim, keep: true}}
}
