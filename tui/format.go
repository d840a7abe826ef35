package tui

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"
)

// humanBytes is 1.2K, 3.4M: powers of 1024, one decimal under 10.
func humanBytes(v float64) string { return human(v, 1024, []string{"", "K", "M", "G", "T"}) }

// humanCount is 950, 1.2k, 34k, 5.6M: powers of 1000.
func humanCount(v float64) string { return human(v, 1000, []string{"", "k", "M", "G"}) }

func human(v, base float64, units []string) string {
	i := 0
	for v >= base && i < len(units)-1 {
		v /= base
		i++
	}
	switch {
	case i == 0:
		return fmt.Sprintf("%.0f", v)
	case v < 10:
		return fmt.Sprintf("%.1f%s", v, units[i])
	}
	return fmt.Sprintf("%.0f%s", v, units[i])
}

var sparkBlocks = []rune("▁▂▃▄▅▆▇█")

// sparkline draws the last width samples scaled to their own maximum, so a
// quiet link still shows its shape; an all-zero history is a flat line.
func sparkline(h []float64, width int) string {
	if width <= 0 {
		return ""
	}
	if len(h) > width {
		h = h[len(h)-width:]
	}
	maxV := 0.0
	for _, v := range h {
		maxV = max(maxV, v)
	}
	var b strings.Builder
	for _, v := range h {
		i := 0
		if maxV > 0 && v > 0 {
			i = int(v / maxV * float64(len(sparkBlocks)-1))
			i = min(max(i, 1), len(sparkBlocks)-1)
		}
		b.WriteRune(sparkBlocks[i])
	}
	return b.String()
}

// age is kubectl's short age: 45s, 3m12s, 2h5m, 4d.
func age(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < 10*time.Minute:
		return fmt.Sprintf("%dm%ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// width is how many cells s takes. Most of what the screens lay out is
// plain ASCII, whose width is its length; ansi.StringWidth walks grapheme
// clusters and was most of the Traffic screen's cost with 1,000 rows.
func width(s string) int {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x80 || c == 0x1b {
			return narrowWidth(s)
		}
	}
	return len(s)
}

// narrowWidth counts runes while each is surely one cell (Latin and the
// punctuation, arrows and blocks the screens draw with: '…', '↑', '▁'),
// else asks ansi.StringWidth (escapes, wide or combining characters).
func narrowWidth(s string) int {
	n := 0
	for _, r := range s {
		if r == 0x1b || (r >= 0x300 && r < 0x370) || (r >= 0x1100 && r < 0x2000) || r >= 0x2600 {
			return ansi.StringWidth(s)
		}
		n++
	}
	return n
}

// fit truncates s (which may hold ANSI styles) to w cells and pads it with
// spaces to exactly w.
func fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if width(s) > w {
		s = ansi.Truncate(s, w, "…")
	}
	if pad := w - width(s); pad > 0 {
		s += strings.Repeat(" ", pad)
	}
	return s
}

// clip truncates s to w cells without padding.
func clip(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if width(s) > w {
		return ansi.Truncate(s, w, "…")
	}
	return s
}

// columns lays out a table: each column as wide as its widest cell (title
// included) but no wider than its cap (0: no cap). fitTo then makes it fit
// a window: first it hides the columns marked droppable, in their order,
// then it narrows the widest columns, truncating their cells with '…'.
type columns struct {
	titles []string
	caps   []int
	right  []bool // right-aligned (numbers)
	widths []int
	hidden []bool
	drop   []int // columns to hide when it does not fit, first first
	fixed  []bool
	gap    int
}

func newColumns(titles ...string) *columns {
	n := len(titles)
	c := &columns{titles: titles, caps: make([]int, n), right: make([]bool, n), widths: make([]int, n),
		hidden: make([]bool, n), fixed: make([]bool, n), gap: 2}
	for i, t := range titles {
		c.widths[i] = width(t)
	}
	return c
}

func (c *columns) capAt(i, w int) *columns { c.caps[i] = w; return c }

func (c *columns) alignRight(is ...int) *columns {
	for _, i := range is {
		c.right[i] = true
	}
	return c
}

func (c *columns) dropFirst(is ...int) *columns { c.drop = is; return c }

// keepWhole marks columns fitTo must not narrow (addresses).
func (c *columns) keepWhole(is ...int) *columns {
	for _, i := range is {
		c.fixed[i] = true
	}
	return c
}

// measure widens the columns for one row.
func (c *columns) measure(cells []string) {
	for i, s := range cells {
		if i >= len(c.widths) {
			break
		}
		w := width(s)
		if c.caps[i] > 0 {
			w = min(w, c.caps[i])
		}
		c.widths[i] = max(c.widths[i], w)
	}
}

// total is the width of a row, the two-cell gaps included.
func (c *columns) total() int {
	t, n := 0, 0
	for i, w := range c.widths {
		if !c.hidden[i] {
			t += w
			n++
		}
	}
	return t + c.gap*max(n-1, 0)
}

// fitTo makes rows at most w cells wide where it can. The last column
// is clipped rather than narrowed (it holds messages, notes, sparklines),
// so it counts as at most 8 cells here.
func (c *columns) fitTo(w int) {
	need := func() int {
		last := c.lastVisible()
		return c.total() - c.widths[last] + min(c.widths[last], 8)
	}
	for _, i := range c.drop {
		if need() <= w {
			return
		}
		c.hidden[i] = true
	}
	if need() > w {
		c.gap = 1
	}
	for need() > w {
		widest, last := -1, c.lastVisible()
		for i, cw := range c.widths {
			if i != last && !c.hidden[i] && !c.right[i] && !c.fixed[i] && cw > 6 && (widest < 0 || cw > c.widths[widest]) {
				widest = i
			}
		}
		if widest < 0 {
			return
		}
		c.widths[widest]--
	}
}

func (c *columns) lastVisible() int {
	last := len(c.widths) - 1
	for last > 0 && c.hidden[last] {
		last--
	}
	return last
}

// row renders cells in the measured widths, two spaces apart; the last
// column is not padded.
func (c *columns) row(cells []string) string {
	var b strings.Builder
	last := min(len(cells), len(c.widths)) - 1
	for last > 0 && c.hidden[last] {
		last--
	}
	first := true
	for i, s := range cells {
		if i >= len(c.widths) || i > last {
			break
		}
		if c.hidden[i] {
			continue
		}
		if !first {
			b.WriteString(strings.Repeat(" ", c.gap))
		}
		first = false
		w := c.widths[i]
		switch {
		case c.right[i]:
			s = clip(s, w)
			b.WriteString(strings.Repeat(" ", w-width(s)) + s)
		case i == last:
			b.WriteString(clip(s, w))
		default:
			b.WriteString(fit(s, w))
		}
	}
	return b.String()
}

func (c *columns) header() string { return c.row(c.titles) }
