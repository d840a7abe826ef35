package proxy

import (
	"fmt"
	"slices"
	"strings"
)

// OpKind is one kind of incremental change.
type OpKind int

// The kinds, in the order Diff emits them. The order is what makes one
// transaction valid and fast: a chain exists before anything jumps to it;
// references (elements, rules) are dropped before what they reference is
// deleted; rules bind a map before its elements are added (binding a map
// that already holds elements costs time proportional to its size).
const (
	OpAddChain   OpKind = iota // create an empty chain (with its hook, if a base chain)
	OpDelElems                 // delete elements from a map that stays
	OpFlushChain               // delete every rule of a chain (rewritten or removed)
	OpDelMap                   // delete a map or set with its elements
	OpDelChain                 // delete an (already flushed) chain
	OpAddMap                   // create an empty map or set
	OpAddRules                 // append the chain's rules (after a flush or to a new chain)
	OpAddElems                 // add elements to a map
)

var opNames = [...]string{"add chain", "delete elements", "flush chain", "delete map", "delete chain", "add map", "add rules", "add elements"}

func (k OpKind) String() string { return opNames[k] }

// Op is one incremental change. Chain is set for chain ops (AddRules uses its
// Rules); Map for map ops (element ops use Map.Elems as the elements to add
// or delete, the rest of Map describes the map).
type Op struct {
	Kind  OpKind
	Chain *Chain
	Map   *Map
}

func (o Op) String() string {
	switch o.Kind {
	case OpAddElems, OpDelElems:
		return fmt.Sprintf("%s %s (%d)", o.Kind, o.Map.Name, len(o.Map.Elems))
	case OpAddMap, OpDelMap:
		return fmt.Sprintf("%s %s", o.Kind, o.Map.Name)
	case OpAddRules:
		return fmt.Sprintf("%s %s (%d)", o.Kind, o.Chain.Name, len(o.Chain.Rules))
	}
	return fmt.Sprintf("%s %s", o.Kind, o.Chain.Name)
}

// Diff returns the ops that turn old into new, touching only what differs: a
// chain whose rules changed is flushed and rewritten, a map whose elements
// changed gets element additions and deletions. A nil old means "nothing
// loaded" (a full load is Diff(nil, rs) in a fresh table).
func Diff(old, new *Ruleset) []Op {
	if old == nil {
		old = &Ruleset{}
	}
	if new == nil {
		new = &Ruleset{}
	}
	d := differ{
		oc: byName(old.Chains, func(c *Chain) string { return c.Name }),
		nc: byName(new.Chains, func(c *Chain) string { return c.Name }),
		om: byName(old.Maps, func(m *Map) string { return m.Name }),
		nm: byName(new.Maps, func(m *Map) string { return m.Name }),
	}
	return d.ops(old, new)
}

type differ struct {
	oc, nc map[string]*Chain
	om, nm map[string]*Map
}

func byName[T any](xs []T, name func(T) string) map[string]T {
	m := make(map[string]T, len(xs))
	for _, x := range xs {
		m[name(x)] = x
	}
	return m
}

func (d differ) ops(old, new *Ruleset) []Op {
	// A map whose definition changed is deleted and re-added, so every
	// chain referring to it must be rewritten around that.
	replaced := map[string]bool{}
	for _, m := range new.Maps {
		if o := d.om[m.Name]; o != nil && !o.sameDef(m) {
			replaced[m.Name] = true
		}
	}
	var add, del, flush, rewrite []*Chain
	for _, c := range new.Chains {
		o := d.oc[c.Name]
		switch {
		case o == nil:
			add = append(add, c)
		case !rulesEqual(o.Rules, c.Rules) || refersTo(c, replaced):
			flush, rewrite = append(flush, c), append(rewrite, c)
		}
	}
	for _, c := range old.Chains {
		if d.nc[c.Name] == nil {
			del = append(del, c)
			flush = append(flush, c)
		}
	}
	var ops []Op
	for _, c := range add {
		ops = append(ops, Op{Kind: OpAddChain, Chain: c})
	}
	var addElems []Op
	for _, m := range new.Maps {
		o := d.om[m.Name]
		if o == nil || replaced[m.Name] {
			continue
		}
		gone, come := elemDelta(o, m)
		if len(gone) > 0 {
			ops = append(ops, Op{Kind: OpDelElems, Map: withElems(o, gone)})
		}
		if len(come) > 0 {
			addElems = append(addElems, Op{Kind: OpAddElems, Map: withElems(m, come)})
		}
	}
	for _, c := range flush {
		ops = append(ops, Op{Kind: OpFlushChain, Chain: c})
	}
	for _, m := range old.Maps {
		if d.nm[m.Name] == nil || replaced[m.Name] {
			ops = append(ops, Op{Kind: OpDelMap, Map: withElems(m, nil)})
		}
	}
	for _, c := range del {
		ops = append(ops, Op{Kind: OpDelChain, Chain: c})
	}
	var fresh []*Map
	for _, m := range new.Maps {
		if d.om[m.Name] == nil || replaced[m.Name] {
			fresh = append(fresh, m)
			ops = append(ops, Op{Kind: OpAddMap, Map: withElems(m, nil)})
		}
	}
	for _, c := range slices.Concat(rewrite, add) {
		if len(c.Rules) > 0 {
			ops = append(ops, Op{Kind: OpAddRules, Chain: c})
		}
	}
	for _, m := range fresh {
		if len(m.Elems) > 0 {
			ops = append(ops, Op{Kind: OpAddElems, Map: m})
		}
	}
	return append(ops, addElems...)
}

func withElems(m *Map, es []Elem) *Map {
	c := *m
	c.Elems = es
	return &c
}

// elemDelta lists the elements only in o (to delete) and only in n (to add);
// an element whose verdict changed is in both.
func elemDelta(o, n *Map) (gone, come []Elem) {
	have := make(map[Elem]bool, len(o.Elems))
	for _, e := range o.Elems {
		have[e] = true
	}
	want := make(map[Elem]bool, len(n.Elems))
	for _, e := range n.Elems {
		want[e] = true
		if !have[e] {
			come = append(come, e)
		}
	}
	for _, e := range o.Elems {
		if !want[e] {
			gone = append(gone, e)
		}
	}
	return gone, come
}

func rulesEqual(a, b []Rule) bool {
	return slices.EqualFunc(a, b, func(x, y Rule) bool {
		return x.Comment == y.Comment && slices.Equal(x.Exprs, y.Exprs)
	})
}

func refersTo(c *Chain, maps map[string]bool) bool {
	if len(maps) == 0 {
		return false
	}
	for _, r := range c.Rules {
		for _, m := range r.refs() {
			if maps[m] {
				return true
			}
		}
	}
	return false
}

// String renders the ruleset in nft syntax, for people and golden tests.
func (rs *Ruleset) String() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "table ip %s {\n", TableName)
	for _, m := range rs.Maps {
		writeMap(&sb, m)
	}
	for _, c := range rs.Chains {
		fmt.Fprintf(&sb, "\tchain %s {\n", c.Name)
		if h := c.Hook; h != nil {
			fmt.Fprintf(&sb, "\t\ttype %s hook %s priority %d; policy accept;\n", h.Type, h.Hook, h.Priority)
		}
		for _, r := range c.Rules {
			fmt.Fprintf(&sb, "\t\t%s\n", r)
		}
		sb.WriteString("\t}\n")
	}
	sb.WriteString("}\n")
	return sb.String()
}

var keyTypes = [...]string{"ipv4_addr . inet_proto . inet_service", "inet_proto . inet_service", "integer", "ipv4_addr",
	"ipv4_addr", "ipv4_addr . mark", "ipv4_addr . mark", "ipv4_addr . inet_proto . inet_service . mark"}

func writeMap(sb *strings.Builder, m *Map) {
	switch {
	case m.IsDynamic():
		fmt.Fprintf(sb, "\tset %s {\n\t\ttype ipv4_addr\n\t\tflags dynamic,timeout\n\t\ttimeout %s\n", m.Name, m.Timeout)
	case m.IsSet():
		fmt.Fprintf(sb, "\tset %s {\n\t\ttype %s\n", m.Name, keyTypes[m.Key])
		if m.Key == KeyRangeGroup {
			sb.WriteString("\t\tflags interval\n")
		}
	default:
		fmt.Fprintf(sb, "\tmap %s {\n\t\ttype %s : verdict\n", m.Name, keyTypes[m.Key])
	}
	if m.Comment != "" {
		fmt.Fprintf(sb, "\t\tcomment %q\n", m.Comment)
	}
	if len(m.Elems) > 0 {
		els := make([]string, len(m.Elems))
		for i, e := range m.Elems {
			els[i] = e.String(m.Key)
		}
		fmt.Fprintf(sb, "\t\telements = { %s }\n", strings.Join(els, ",\n\t\t\t     "))
	}
	sb.WriteString("\t}\n")
}
