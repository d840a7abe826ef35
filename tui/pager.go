package tui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// pager scrolls a text laid out as lines under a title that stays on top:
// the detail views (a CNI call, a Service, a pod's describe) use it.
type pager struct{ offset int }

// update scrolls for the movement keys and says whether it did.
func (p *pager) update(msg tea.Msg, h int) bool {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return false
	}
	switch {
	case key.Matches(k, keys.Up):
		p.offset--
	case key.Matches(k, keys.Down):
		p.offset++
	case key.Matches(k, keys.PageUp):
		p.offset -= max(h-1, 1)
	case key.Matches(k, keys.PageDown):
		p.offset += max(h-1, 1)
	case key.Matches(k, keys.Home):
		p.offset = 0
	case key.Matches(k, keys.End):
		p.offset = 1 << 30
	default:
		return false
	}
	return true
}

// view is exactly h lines: lines[0] (the title), then the rest from the
// offset.
func (p *pager) view(lines []string, h int) string {
	if len(lines) == 0 {
		lines = []string{""}
	}
	body := lines[1:]
	room := max(h-1, 0)
	p.offset = max(min(p.offset, len(body)-room), 0)
	out := append([]string{lines[0]}, body[p.offset:min(p.offset+room, len(body))]...)
	for len(out) < h {
		out = append(out, "")
	}
	return strings.Join(out[:h], "\n")
}
