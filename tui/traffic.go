package tui

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

// trafficScreen is every link's rate, top talkers first, with a sparkline
// of the last minute.
type trafficScreen struct{ base }

func newTrafficScreen(sh *shared) *trafficScreen {
	t := &trafficScreen{base{sh: sh}}
	t.layout = t.rebuild
	t.rebuild()
	return t
}

func (t *trafficScreen) Title() string { return "Traffic" }

func (t *trafficScreen) Update(msg tea.Msg) tea.Cmd {
	if d, ok := msg.(dataMsg); ok && d.kind == kindRates && d.err == nil {
		t.changed()
	}
	t.nav(msg)
	return nil
}

func (t *trafficScreen) rebuild() {
	if t.sh.rates == nil {
		t.l.setRows(t.message("waiting for rates…"))
		return
	}
	rates := make([]*Rate, len(t.sh.rates))
	for i := range t.sh.rates {
		rates[i] = &t.sh.rates[i]
	}
	slices.SortStableFunc(rates, func(a, b *Rate) int {
		return cmp.Or(cmp.Compare(b.RxBps+b.TxBps, a.RxBps+a.TxBps), cmp.Compare(a.Name, b.Name))
	})
	c := newColumns("NAME", "KIND", "NODE", "RX/s", "TX/s", "RX p/s", "TX p/s", "LAST MINUTE").
		capAt(0, 40).alignRight(3, 4, 5, 6).dropFirst(2)
	cells := make([][]string, len(rates))
	for i, r := range rates {
		cells[i] = []string{r.Name, r.Kind, r.Node, humanBytes(r.RxBps), humanBytes(r.TxBps),
			humanCount(r.RxPps), humanCount(r.TxPps), ""}
		c.measure(cells[i])
	}
	// The sparkline gets what the other columns leave, 12 cells at least.
	c.widths[len(c.widths)-1] = 12
	c.fitTo(t.width() - 4)
	spark := min(max(t.width()-(c.total()-12), 12), 60)
	c.widths[len(c.widths)-1] = spark
	rows := t.section(nil, fmt.Sprintf("LINKS (%d) by total rate", len(rates)), c)
	for i, r := range rates {
		sl := sparkline(r.History, spark)
		cells[i][len(cells[i])-1] = sl
		text := c.row(cells[i])
		n := utf8.RuneCountInString(sl) // one cell a block
		rows = append(rows, row{text: text, selectable: true, key: r.Node + "/" + r.Name,
			styler: func(text string) string {
				if head, ok := strings.CutSuffix(text, sl); ok { // the sparkline whole: no need to count cells
					return head + t.sh.st.Spark.Render(sl)
				}
				return t.spark(text, n)
			}, data: r})
	}
	t.l.setRows(rows)
}

// spark colours the sparkline at the end of a row.
func (t *trafficScreen) spark(text string, n int) string {
	w := width(text)
	cut := max(w-n, 0)
	head := ansi.Cut(text, 0, cut)
	return head + t.sh.st.Spark.Render(ansi.Cut(text, cut, w))
}
