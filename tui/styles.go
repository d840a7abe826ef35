package tui

import (
	"image/color"

	"charm.land/lipgloss/v2"
)

// Styles is every look the UI uses, in one place. The information never
// lives in a style alone: a cursor row also starts with '>', a grown
// counter with '↑', a new flow with '*', a diff line with '+' or '-', so
// the no-colour variant (NO_COLOR) and the golden files carry it too.
type Styles struct {
	Title     lipgloss.Style // the top bar
	Tab       lipgloss.Style
	ActiveTab lipgloss.Style
	Section   lipgloss.Style // "NODES", "PODS"
	Header    lipgloss.Style // column headers
	Cursor    lipgloss.Style // the selected row
	Dim       lipgloss.Style // notes, unready things
	Good      lipgloss.Style // ready
	Bad       lipgloss.Style // not ready, errors
	Grew      lipgloss.Style // a counter that grew since the previous frame
	New       lipgloss.Style // a flow seen for the first time
	Added     lipgloss.Style // a rule that appeared
	Removed   lipgloss.Style // a rule that went away
	Status    lipgloss.Style
	Error     lipgloss.Style // a failing source in the status line
	Footer    lipgloss.Style
	Prompt    lipgloss.Style
	Spark     lipgloss.Style
}

// NewStyles returns the colour styles, or when color is false the
// NO_COLOR variant: only bold, faint and reverse, no colour at all.
func NewStyles(colour bool) Styles {
	s := lipgloss.NewStyle
	if !colour {
		return Styles{
			Title:     s().Bold(true),
			Tab:       s(),
			ActiveTab: s().Bold(true).Reverse(true),
			Section:   s().Bold(true),
			Header:    s().Bold(true),
			Cursor:    s().Reverse(true),
			Dim:       s().Faint(true),
			Good:      s(),
			Bad:       s().Bold(true),
			Grew:      s().Bold(true),
			New:       s().Bold(true),
			Added:     s().Bold(true),
			Removed:   s().Faint(true),
			Status:    s(),
			Error:     s().Bold(true),
			Footer:    s().Faint(true),
			Prompt:    s().Bold(true),
			Spark:     s(),
		}
	}
	var (
		blue   color.Color = lipgloss.Color("#5f87ff")
		cyan   color.Color = lipgloss.Color("#5fd7d7")
		green  color.Color = lipgloss.Color("#5fd75f")
		red    color.Color = lipgloss.Color("#ff5f5f")
		yellow color.Color = lipgloss.Color("#ffd75f")
		grey   color.Color = lipgloss.Color("#8a8a8a")
		dark   color.Color = lipgloss.Color("#303030")
		white  color.Color = lipgloss.Color("#eeeeee")
	)
	return Styles{
		Title:     s().Bold(true).Foreground(white).Background(blue),
		Tab:       s().Foreground(grey),
		ActiveTab: s().Bold(true).Foreground(white).Background(blue),
		Section:   s().Bold(true).Foreground(cyan),
		Header:    s().Bold(true).Foreground(grey),
		Cursor:    s().Foreground(white).Background(dark).Bold(true),
		Dim:       s().Foreground(grey),
		Good:      s().Foreground(green),
		Bad:       s().Foreground(red),
		Grew:      s().Bold(true).Foreground(yellow),
		New:       s().Bold(true).Foreground(green),
		Added:     s().Foreground(green),
		Removed:   s().Foreground(red),
		Status:    s().Foreground(white),
		Error:     s().Foreground(red).Bold(true),
		Footer:    s().Foreground(grey),
		Prompt:    s().Bold(true).Foreground(yellow),
		Spark:     s().Foreground(cyan),
	}
}
