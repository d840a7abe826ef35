package proxy

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// DriftState says how one object of the kernel's table differs from the
// ruleset kinn wants there.
type DriftState string

const (
	Missing DriftState = "MISSING" // wanted, absent from the kernel
	Extra   DriftState = "EXTRA"   // in the kernel, not wanted
	Changed DriftState = "CHANGED" // in both, with different content
)

// Drift is how a node's kinn table in the kernel differs from the ruleset
// kinn wants there: what someone changed behind kinn's back (`nft delete
// rule ...`). The zero value means they are the same. Package
// lab/kernel/nft finds it; Repair turns it into the ops that undo it.
type Drift struct {
	NoTable bool // the whole table is gone
	Chains  []ChainDrift
	Maps    []MapDrift
}

// ChainDrift is one chain whose kernel copy differs from the wanted one.
type ChainDrift struct {
	Name string
	// State is Missing or Extra for the whole chain, Changed when only
	// its rules (or a base chain's hook) differ.
	State      DriftState
	Want, Have int      // rule counts
	Missing    []Rule   // wanted rules the kernel lacks
	Extra      []string // kernel rules kinn did not write, described
	Reordered  bool     // every rule is there, in another order
	Redefined  string   // a base chain's type, hook or priority differs: how
}

// MapDrift is one map or set whose kernel copy differs from the wanted one.
// The elements of dynamic sets (session affinity's clients) are the
// kernel's to manage and never count.
type MapDrift struct {
	Name      string
	Key       KeyKind
	State     DriftState
	Want      int    // wanted elements
	Missing   []Elem // wanted elements the kernel lacks
	Extra     []Elem // kernel elements not wanted (a changed verdict is one of each)
	Redefined string // key type or flags differ, or an element kinn cannot read: how
}

// Empty reports whether kernel and ruleset agree.
func (d *Drift) Empty() bool {
	return d == nil || !d.NoTable && len(d.Chains) == 0 && len(d.Maps) == 0
}

// Chain returns the drift of the named chain, or nil.
func (d *Drift) Chain(name string) *ChainDrift {
	if d == nil {
		return nil
	}
	for i := range d.Chains {
		if d.Chains[i].Name == name {
			return &d.Chains[i]
		}
	}
	return nil
}

// Map returns the drift of the named map, or nil.
func (d *Drift) Map(name string) *MapDrift {
	if d == nil {
		return nil
	}
	for i := range d.Maps {
		if d.Maps[i].Name == name {
			return &d.Maps[i]
		}
	}
	return nil
}

// Sort puts chains and maps in name order, for stable output.
func (d *Drift) Sort() {
	slices.SortFunc(d.Chains, func(a, b ChainDrift) int { return cmp.Compare(a.Name, b.Name) })
	slices.SortFunc(d.Maps, func(a, b MapDrift) int { return cmp.Compare(a.Name, b.Name) })
}

// Lines says what differs, one sentence per chain or map, for logs and
// events: "chain ep-... had 1 of 2 rules".
func (d *Drift) Lines() []string {
	if d.Empty() {
		return nil
	}
	if d.NoTable {
		return []string{fmt.Sprintf("table ip %s missing", TableName)}
	}
	var out []string
	for _, c := range d.Chains {
		out = append(out, c.String())
	}
	for _, m := range d.Maps {
		out = append(out, m.String())
	}
	return out
}

func (c ChainDrift) String() string {
	switch c.State {
	case Missing:
		return fmt.Sprintf("chain %s missing (%s)", c.Name, plural(c.Want, "rule"))
	case Extra:
		return fmt.Sprintf("chain %s is not kinn's (%s)", c.Name, plural(c.Have, "rule"))
	}
	if c.Redefined != "" {
		return fmt.Sprintf("chain %s: %s", c.Name, c.Redefined)
	}
	var parts []string
	if len(c.Missing) > 0 {
		parts = append(parts, fmt.Sprintf("had %d of %s", c.Want-len(c.Missing), plural(c.Want, "rule")))
		for _, r := range c.Missing {
			parts = append(parts, "missing: "+r.String())
		}
	}
	if len(c.Extra) > 0 {
		parts = append(parts, fmt.Sprintf("had %s kinn did not write", plural(len(c.Extra), "rule")))
		for _, r := range c.Extra {
			parts = append(parts, "extra: "+r)
		}
	}
	if c.Reordered && len(parts) == 0 {
		parts = append(parts, fmt.Sprintf("had its %s out of order", plural(c.Want, "rule")))
	}
	return fmt.Sprintf("chain %s %s", c.Name, strings.Join(parts, "; "))
}

func (m MapDrift) String() string {
	switch m.State {
	case Missing:
		return fmt.Sprintf("map %s missing (%s)", m.Name, plural(m.Want, "element"))
	case Extra:
		return fmt.Sprintf("map %s is not kinn's", m.Name)
	}
	if m.Redefined != "" {
		return fmt.Sprintf("map %s: %s", m.Name, m.Redefined)
	}
	var parts []string
	if len(m.Missing) > 0 {
		parts = append(parts, fmt.Sprintf("had %d of %s", m.Want-len(m.Missing), plural(m.Want, "element")))
		for _, e := range m.Missing {
			parts = append(parts, "missing: "+e.String(m.Key))
		}
	}
	if len(m.Extra) > 0 {
		parts = append(parts, fmt.Sprintf("had %s kinn did not write", plural(len(m.Extra), "element")))
		for _, e := range m.Extra {
			parts = append(parts, "extra: "+e.String(m.Key))
		}
	}
	return fmt.Sprintf("map %s %s", m.Name, strings.Join(parts, "; "))
}

// String renders the element as nft prints it in a map (or a set, whose
// elements have no verdict) of the given kind.
func (e Elem) String(kind KeyKind) string {
	if kind.isSet() {
		return e.Key.String(kind)
	}
	return e.Key.String(kind) + " : " + e.Verdict.String()
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// staleRule stands for a chain's rules as the kernel has them: it equals
// no rule Build makes, so Diff rewrites the chain.
var staleRule = Rule{Comment: "\x00not as kinn wrote it"}

// Repair returns the ops that turn the kernel's table, as d describes it,
// back into want: drifted chains flushed and rewritten, missing chains
// and maps added, foreign ones deleted, elements added and deleted, in
// one transaction's order (Diff's). It asks for a full reload instead when
// the table is gone or a base chain or map was redefined, which elements
// and rules cannot undo.
func (d *Drift) Repair(want *Ruleset) (ops []Op, reload bool) {
	if d.Empty() {
		return nil, false
	}
	if d.NoTable {
		return nil, true
	}
	for _, c := range d.Chains {
		if c.Redefined != "" {
			return nil, true
		}
	}
	for _, m := range d.Maps {
		if m.Redefined != "" {
			return nil, true
		}
	}
	return Diff(d.kernel(want), want), false
}

// kernel is the table as the kernel has it, as far as Diff needs to know:
// want, with the drifted chains' rules replaced by staleRule, missing
// objects left out, foreign ones added and each map's elements as found.
func (d *Drift) kernel(want *Ruleset) *Ruleset {
	have := &Ruleset{}
	for _, c := range want.Chains {
		switch cd := d.Chain(c.Name); {
		case cd == nil:
			have.Chains = append(have.Chains, c)
		case cd.State != Missing:
			have.Chains = append(have.Chains, &Chain{Name: c.Name, Hook: c.Hook, Rules: []Rule{staleRule}})
		}
	}
	for _, m := range want.Maps {
		switch md := d.Map(m.Name); {
		case md == nil:
			have.Maps = append(have.Maps, m)
		case md.State != Missing:
			found := withElems(m, nil)
			for _, e := range m.Elems {
				if !slices.Contains(md.Missing, e) {
					found.Elems = append(found.Elems, e)
				}
			}
			found.Elems = append(found.Elems, md.Extra...)
			have.Maps = append(have.Maps, found)
		}
	}
	for _, cd := range d.Chains {
		if cd.State == Extra {
			have.Chains = append(have.Chains, &Chain{Name: cd.Name, Rules: []Rule{staleRule}})
		}
	}
	for _, md := range d.Maps {
		if md.State == Extra {
			have.Maps = append(have.Maps, &Map{Name: md.Name, Key: md.Key})
		}
	}
	return have
}
