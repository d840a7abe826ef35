package tui

import (
	"strings"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"

	"kinn.dev/kinn/lab/trace"
)

// The journey is told in the CLI's words: trace.WriteText renders it, and
// the screen only wraps its lines to the window and styles them by what
// they are (a hop that stopped the probe, one that delivered it, a
// detail), so the two never drift apart. The marks ✓ → ✗ stay in the text:
// the no-colour rendering carries the same information.

// hopIndent is how far a hop's action stands from its mark in WriteText's
// "→ nftables  DNAT to …": the mark, a space, the component in 9 cells and
// a space. A wrapped action continues under itself.
const hopIndent = 12

// journeyLines is the journey as the screen shows it, w cells wide.
func journeyLines(st Styles, title string, j trace.Journey, verbose bool, w int) []string {
	var b strings.Builder
	trace.WriteText(&b, title, j, verbose)
	text := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	out := make([]string, 0, len(text))
	for i, line := range text {
		style := lineStyle(st, line, i == 0)
		for _, part := range wrapLine(line, w) {
			out = append(out, style(part))
		}
	}
	return out
}

// lineStyle is how one of WriteText's lines looks: the title and the
// places bold, the sections as sections, ✓ good and ✗ bad (the verdict
// line in bold too), details and notes dim.
func lineStyle(st Styles, line string, title bool) func(...string) string {
	body := strings.TrimLeft(line, " ")
	mark, _ := utf8.DecodeRuneInString(body)
	indented := body != line
	switch {
	case title:
		return st.Header.Render
	case line == "REQUEST" || line == "REPLY":
		return st.Section.Render
	case mark == '✓' && !indented:
		return st.Good.Bold(true).Render
	case mark == '✗' && !indented:
		return st.Bad.Bold(true).Render
	case mark == '✓':
		return st.Good.Render
	case mark == '✗':
		return st.Bad.Render
	case mark >= '0' && mark <= '9':
		return st.Header.Render // a numbered place: "2 node kinn-worker2"
	case mark == '→':
		return fmtPlain
	}
	return st.Dim.Render // details, raw rules, notes
}

func fmtPlain(s ...string) string { return strings.Join(s, " ") }

// wrapLine breaks a line longer than w at spaces, the continuation lines
// indented under the text they continue (a hop's action under itself);
// a word longer than a line (a chain's name) breaks at '/' or '-', or
// anywhere.
func wrapLine(line string, w int) []string {
	if width(line) <= w || w < 20 {
		return []string{line}
	}
	body := strings.TrimLeft(line, " ")
	lead := len(line) - len(body)
	hang := lead
	if r, _ := utf8.DecodeRuneInString(body); strings.ContainsRune("✓→✗", r) {
		hang += hopIndent // a hop's action
		if lead == 0 {
			hang = 2 // the verdict's words
		}
	}
	hang = min(hang, w/2)
	var out []string
	cur, limit := "", w-lead
	flush := func() {
		pad := hang
		if len(out) == 0 {
			pad = lead
		}
		out = append(out, strings.Repeat(" ", pad)+strings.TrimRight(cur, " "))
		cur, limit = "", w-hang
	}
	for _, word := range strings.Split(body, " ") {
		if cur != "" && width(cur)+1+width(word) > limit {
			flush()
		}
		for width(word) > limit { // cur is empty here: the word has a line of its own
			cur, word = cutWord(word, limit)
			flush()
		}
		if cur == "" {
			cur = word
		} else {
			cur += " " + word
		}
	}
	if cur != "" {
		flush()
	}
	return out
}

// cutWord splits a word too long for a line after its last '/' or '-'
// that fits, else at the limit.
func cutWord(word string, limit int) (head, rest string) {
	head = ansi.Truncate(word, limit, "")
	if i := strings.LastIndexAny(head, "/-"); i > 0 {
		head = head[:i+1]
	}
	return head, word[len(head):]
}
