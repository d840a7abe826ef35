package tui

import (
	"strings"

	"charm.land/bubbles/v2/key"
)

// keyMap holds the keys every screen shares; screens add their own.
type keyMap struct {
	Quit, Help, Filter, Next, Prev, Screen key.Binding
	Up, Down, PageUp, PageDown, Home, End  key.Binding
	Enter, Back                            key.Binding
}

var keys = keyMap{
	Quit:     key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
	Help:     key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
	Filter:   key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter rows")),
	Next:     key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "next screen")),
	Prev:     key.NewBinding(key.WithKeys("shift+tab"), key.WithHelp("shift+tab", "previous screen")),
	Screen:   key.NewBinding(key.WithKeys("1", "2", "3", "4", "5", "6"), key.WithHelp("1-6", "go to screen")),
	Up:       key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
	Down:     key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
	PageUp:   key.NewBinding(key.WithKeys("pgup", "ctrl+b"), key.WithHelp("pgup", "page up")),
	PageDown: key.NewBinding(key.WithKeys("pgdown", "ctrl+f", "space"), key.WithHelp("pgdn", "page down")),
	Home:     key.NewBinding(key.WithKeys("home", "g"), key.WithHelp("g", "top")),
	End:      key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("G", "bottom")),
	Enter:    key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "open node, Service, pod, CNI call")),
	Back:     key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back, clear filter")),
}

func (k keyMap) global() []key.Binding {
	return []key.Binding{k.Quit, k.Help, k.Filter, k.Next, k.Prev, k.Screen, k.Up, k.Down,
		k.PageUp, k.PageDown, k.Home, k.End, k.Enter, k.Back}
}

// shortHelp is the footer: "r ready · d delete".
func shortHelp(bs ...key.Binding) string {
	var parts []string
	for _, b := range bs {
		if b.Enabled() {
			parts = append(parts, b.Help().Key+" "+b.Help().Desc)
		}
	}
	return strings.Join(parts, " · ")
}
