package netpol

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// A Cell of a truth table: unknown until set (a probe that did not run).
type Cell uint8

const (
	Unknown Cell = iota
	Allowed
	Denied
)

// Mark is the cell as upstream's tables print it.
func (c Cell) Mark() string {
	switch c {
	case Allowed:
		return "."
	case Denied:
		return "X"
	}
	return "?"
}

// CellOf turns a boolean into a cell.
func CellOf(allowed bool) Cell {
	if allowed {
		return Allowed
	}
	return Denied
}

// A TruthTable is sources (rows) by destinations (columns), the shape of
// upstream's netpol e2e tables, so that expected, observed and their
// comparison print alike.
type TruthTable struct {
	Froms, Tos []string
	Cells      [][]Cell // [from][to]
}

// NewTruthTable returns a table of unknown cells.
func NewTruthTable(froms, tos []string) *TruthTable {
	t := &TruthTable{Froms: froms, Tos: tos, Cells: make([][]Cell, len(froms))}
	for i := range t.Cells {
		t.Cells[i] = make([]Cell, len(tos))
	}
	return t
}

// Matrix judges every source to every destination on port/proto.
func (c *Cluster) Matrix(srcs, dsts []Endpoint, proto corev1.Protocol, port int32) *TruthTable {
	t := NewTruthTable(endpointNames(srcs), endpointNames(dsts))
	for i, s := range srcs {
		for j, d := range dsts {
			v := c.Evaluate(Flow{Src: s, Dst: d, Protocol: proto, Port: port})
			t.Cells[i][j] = CellOf(v.Allowed)
		}
	}
	return t
}

// PodEndpoints returns the pods as flow ends, in order.
func PodEndpoints(pods []*Pod) []Endpoint {
	out := make([]Endpoint, len(pods))
	for i, p := range pods {
		out[i] = PodEndpoint(p)
	}
	return out
}

func endpointNames(es []Endpoint) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.String()
	}
	return out
}

// Compare returns a table whose cells say where t and o agree (Allowed) and
// where they differ (Denied); unknown where either is. Both must have the
// same rows and columns in the same order.
func (t *TruthTable) Compare(o *TruthTable) *TruthTable {
	out := NewTruthTable(t.Froms, t.Tos)
	for i := range t.Cells {
		for j, c := range t.Cells[i] {
			if oc := o.Cells[i][j]; c != Unknown && oc != Unknown {
				out.Cells[i][j] = CellOf(c == oc)
			}
		}
	}
	return out
}

// Summary counts a comparison's cells as upstream does: with ignoreLoopback
// a source's cell to itself counts as neither right nor wrong.
func (t *TruthTable) Summary(ignoreLoopback bool) (correct, incorrect, ignored int) {
	for i, from := range t.Froms {
		for j, to := range t.Tos {
			switch {
			case ignoreLoopback && from == to:
				ignored++
			case t.Cells[i][j] == Allowed:
				correct++
			default:
				incorrect++
			}
		}
	}
	return correct, incorrect, ignored
}

// PrettyPrint writes the table as upstream's TruthTable.PrettyPrint does:
// tab-separated, a "-" corner, "." allowed, "X" denied, "?" unknown.
func (t *TruthTable) PrettyPrint(indent string) string {
	lines := []string{indent + strings.Join(append([]string{"-"}, t.Tos...), "\t")}
	for i, from := range t.Froms {
		row := []string{from}
		for _, c := range t.Cells[i] {
			row = append(row, c.Mark())
		}
		lines = append(lines, indent+strings.Join(row, "\t"))
	}
	return strings.Join(lines, "\n")
}
