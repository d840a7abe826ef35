package netpol

import (
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// A Path names a field of a NetworkPolicy by keys (string) and list indexes
// (int), as in spec.ingress[0].from[1]. It has the shape of the topology
// loader's paths, so that the loader can turn it into FILE:LINE:COL.
type Path []any

// with returns a new path; it never shares the backing array, so sibling
// paths built from one prefix cannot overwrite each other.
func (p Path) with(elems ...any) Path {
	out := make(Path, 0, len(p)+len(elems))
	return append(append(out, p...), elems...)
}

// String reads as the API server's field paths: spec.ingress[0].from[1].
func (p Path) String() string { return fieldPath(p).String() }

// A FieldError is one problem with one field. Msg starts with the path, so it
// reads on its own: "spec.ingress[0].from[1]: must specify a peer".
type FieldError struct {
	Path Path
	Msg  string
}

func (e FieldError) Error() string { return e.Msg }

// FieldErrors is every problem found in a policy, in the order of its fields.
type FieldErrors []FieldError

func (es FieldErrors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Msg
	}
	return strings.Join(msgs, "\n")
}

func (es *FieldErrors) add(p Path, format string, args ...any) {
	*es = append(*es, FieldError{p, p.String() + ": " + fmt.Sprintf(format, args...)})
}

// addList takes errors from apimachinery's validators (label selectors),
// whose paths are strings, back into Paths.
func (es *FieldErrors) addList(list field.ErrorList) {
	for _, e := range list {
		p := parsePath(e.Field)
		*es = append(*es, FieldError{p, p.String() + ": " + e.ErrorBody()})
	}
}

// parsePath reads a field.Path string: a.b[0].c, or a[key] for map keys.
func parsePath(s string) Path {
	var p Path
	for s != "" {
		switch {
		case s[0] == '.':
			s = s[1:]
		case s[0] == '[':
			end := strings.IndexByte(s, ']')
			if end < 0 {
				return append(p, s)
			}
			if n, err := strconv.Atoi(s[1:end]); err == nil {
				p = append(p, n)
			} else {
				p = append(p, s[1:end])
			}
			s = s[end+1:]
		default:
			end := strings.IndexAny(s, ".[")
			if end < 0 {
				end = len(s)
			}
			p = append(p, s[:end])
			s = s[end:]
		}
	}
	return p
}
