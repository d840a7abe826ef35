package topology

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Pos is a position in a topology file. Line and Col are 1-based, as editors
// count them, so that "FILE:LINE:COL" can be clicked in most terminals.
type Pos struct {
	File      string
	Line, Col int
}

func (p Pos) String() string { return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col) }

// Problem is one thing wrong (or, as a Warning, questionable) in a file.
type Problem struct {
	Pos Pos
	Msg string
}

func (p Problem) String() string { return p.Pos.String() + ": " + p.Msg }

// Warning is a Problem that does not stop the file from being used, such as a
// kind field that only makes sense for containers.
type Warning = Problem

// Problems is every problem found in a file. It is returned as an error so
// that a caller that only wants to print it can.
type Problems []Problem

func (ps Problems) Error() string {
	sorted := sortProblems(ps)
	lines := make([]string, len(sorted))
	for i, p := range sorted {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// sortProblems orders problems as a reader meets them in the file.
func sortProblems(ps []Problem) []Problem {
	out := slices.Clone(ps)
	slices.SortStableFunc(out, func(a, b Problem) int {
		return cmp.Or(
			cmp.Compare(a.Pos.File, b.Pos.File),
			cmp.Compare(a.Pos.Line, b.Pos.Line),
			cmp.Compare(a.Pos.Col, b.Pos.Col),
		)
	})
	return out
}

// report collects problems and warnings while a file is checked, so that
// every check can run and the user sees everything at once.
type report struct {
	errs  []Problem
	warns []Warning
	at    map[Pos]bool // positions with a problem
}

// errorf records a problem. Only the first problem at a position is kept:
// later ones there are consequences of it (a mistyped name is also a missing
// one) and would only add noise.
func (r *report) errorf(pos Pos, format string, args ...any) {
	if r.at[pos] {
		return
	}
	if r.at == nil {
		r.at = make(map[Pos]bool)
	}
	r.at[pos] = true
	r.errs = append(r.errs, Problem{pos, fmt.Sprintf(format, args...)})
}

func (r *report) warnf(pos Pos, format string, args ...any) {
	r.warns = append(r.warns, Warning{pos, fmt.Sprintf(format, args...)})
}
