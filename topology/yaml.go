package topology

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// A doc is one YAML document of the stream, kept as a node tree so that any
// later check can point at the line and column of the field it complains
// about, long after the document was decoded into Go types.
type doc struct {
	file string
	root *yaml.Node // a mapping node
}

// A path names a field by keys (string) and list indexes (int), as in
// spec.template.spec.containers[0].ports[1].
type path []any

// with returns a new path; it never shares the backing array, so sibling
// paths built from the same prefix cannot overwrite each other.
func (p path) with(elems ...any) path {
	out := make(path, 0, len(p)+len(elems))
	return append(append(out, p...), elems...)
}

func (p path) String() string {
	var b strings.Builder
	for _, e := range p {
		switch e := e.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", e)
		default:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			fmt.Fprint(&b, e)
		}
	}
	return b.String()
}

func (d *doc) pos(n *yaml.Node) Pos {
	if d == nil || n == nil {
		return Pos{Line: 1, Col: 1}
	}
	return Pos{File: d.file, Line: n.Line, Col: n.Column}
}

// deref follows aliases so that lookups see what the decoder saw.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// lookup walks p from the root. It returns the key and value nodes of the
// deepest element that exists and whether the whole path was found, so that
// a missing field can still be reported at its parent.
func (d *doc) lookup(p path) (key, val *yaml.Node, found bool) {
	if d == nil {
		return nil, nil, false
	}
	val = d.root
	for _, e := range p {
		k, v := child(deref(val), e)
		if v == nil {
			return key, val, false
		}
		key, val = k, v
	}
	return key, val, true
}

func child(n *yaml.Node, e any) (key, val *yaml.Node) {
	if n == nil {
		return nil, nil
	}
	switch e := e.(type) {
	case string:
		if n.Kind != yaml.MappingNode {
			return nil, nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == e {
				return n.Content[i], n.Content[i+1]
			}
		}
	case int:
		if n.Kind == yaml.SequenceNode && e >= 0 && e < len(n.Content) {
			return n.Content[e], n.Content[e]
		}
	}
	return nil, nil
}

// at is the position of the value at p, or of the nearest enclosing field
// that exists (a defaulted field is reported where it would be written).
func (d *doc) at(p ...any) Pos {
	key, val, found := d.lookup(p)
	if !found && key != nil {
		return d.pos(key)
	}
	return d.pos(val)
}

// keyAt is the position of the key of the field at p, which is where a
// reader looks for a field that should not be there.
func (d *doc) keyAt(p ...any) Pos {
	key, val, _ := d.lookup(p)
	if key == nil {
		return d.pos(val)
	}
	return d.pos(key)
}

func (d *doc) has(p ...any) bool {
	_, _, found := d.lookup(p)
	return found
}

// converter turns a node tree into the generic values encoding/json
// produces (map[string]any, []any, string, float64/int, bool, nil) so that
// documents can be decoded into Kubernetes types through their JSON tags.
type converter struct {
	d      *doc
	r      *report
	budget int // nodes left to expand; aliases could otherwise blow up
	tooBig bool
}

const (
	maxDepth = 100
	maxNodes = 1 << 20
)

func newConverter(d *doc, r *report) *converter {
	return &converter{d: d, r: r, budget: maxNodes}
}

func (c *converter) value(n *yaml.Node, depth int) (any, bool) {
	c.budget--
	if c.budget < 0 || depth > maxDepth {
		if !c.tooBig {
			c.tooBig = true
			c.r.errorf(c.d.pos(n), "document is too large or too deeply nested")
		}
		return nil, false
	}
	switch n.Kind {
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, false
		}
		return c.value(n.Alias, depth+1)
	case yaml.ScalarNode:
		return c.scalar(n)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		ok := true
		for _, e := range n.Content {
			v, eok := c.value(e, depth+1)
			ok = ok && eok
			out = append(out, v)
		}
		return out, ok
	case yaml.MappingNode:
		return c.mapping(n, depth)
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, true
		}
		return c.value(n.Content[0], depth+1)
	}
	c.r.errorf(c.d.pos(n), "unsupported YAML node")
	return nil, false
}

func (c *converter) scalar(n *yaml.Node) (any, bool) {
	var v any
	if err := n.Decode(&v); err != nil {
		c.r.errorf(c.d.pos(n), "%s", strings.TrimPrefix(err.Error(), "yaml: "))
		return nil, false
	}
	switch x := v.(type) {
	case float64:
		// JSON has no infinities or NaN.
		if math.IsInf(x, 0) || math.IsNaN(x) {
			c.r.errorf(c.d.pos(n), "%s is not a finite number", n.Value)
			return nil, false
		}
	case []byte:
		v = string(x)
	case nil, string, bool, int, int64, uint64:
	default:
		// Timestamps and other tags: keep the text, as a JSON decoder would
		// expect it.
		v = n.Value
	}
	return v, true
}

func (c *converter) mapping(n *yaml.Node, depth int) (any, bool) {
	out := make(map[string]any, len(n.Content)/2)
	seen := make(map[string]*yaml.Node, len(n.Content)/2)
	ok := true
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), n.Content[i+1]
		if k == nil || k.Kind != yaml.ScalarNode {
			c.r.errorf(c.d.pos(n.Content[i]), "mapping keys must be strings")
			ok = false
			continue
		}
		if k.Tag == "!!merge" {
			c.r.errorf(c.d.pos(k), "merge keys (<<) are not supported")
			ok = false
			continue
		}
		if first, dup := seen[k.Value]; dup {
			c.r.errorf(c.d.pos(k), "duplicate key %q (first at line %d)", k.Value, first.Line)
			ok = false
			continue
		}
		seen[k.Value] = k
		val, vok := c.value(v, depth+1)
		ok = ok && vok
		out[k.Value] = val
	}
	return out, ok
}

// describe says what a node is, for type errors.
func describe(n *yaml.Node) string {
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	if n.Tag == "!!str" {
		return strconv.Quote(n.Value)
	}
	return n.Value
}
