package proxy

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"kinn.dev/kinn/lab/service"
)

// table is a model of a kernel table: enough of nf_tables' rules to catch
// an op order the kernel would refuse (a rule jumping to a chain that does
// not exist, a chain or map deleted while in use, a missing element
// deleted).
type table struct {
	chains map[string][]Rule
	maps   map[string][]Elem
}

func tableOf(rs *Ruleset) *table {
	t := &table{chains: map[string][]Rule{}, maps: map[string][]Elem{}}
	for _, c := range rs.Chains {
		t.chains[c.Name] = slices.Clone(c.Rules)
	}
	for _, m := range rs.Maps {
		t.maps[m.Name] = slices.Clone(m.Elems)
	}
	return t
}

func targets(r Rule) []string {
	var out []string
	for _, e := range r.Exprs {
		if v, ok := e.(Verdict); ok && v.Chain != "" {
			out = append(out, v.Chain)
		}
	}
	return out
}

func (t *table) used(name string) bool {
	for _, rs := range t.chains {
		for _, r := range rs {
			if slices.Contains(targets(r), name) || slices.Contains(r.refs(), name) {
				return true
			}
		}
	}
	for _, es := range t.maps {
		for _, e := range es {
			if e.Verdict.Chain == name {
				return true
			}
		}
	}
	return false
}

func (t *table) apply(op Op) error {
	switch op.Kind {
	case OpAddChain:
		if _, ok := t.chains[op.Chain.Name]; !ok {
			t.chains[op.Chain.Name] = nil
		}
	case OpFlushChain:
		if _, ok := t.chains[op.Chain.Name]; !ok {
			return fmt.Errorf("flush of missing chain %s", op.Chain.Name)
		}
		t.chains[op.Chain.Name] = nil
	case OpDelChain:
		if len(t.chains[op.Chain.Name]) > 0 || t.used(op.Chain.Name) {
			return fmt.Errorf("delete of chain %s in use", op.Chain.Name)
		}
		delete(t.chains, op.Chain.Name)
	case OpAddMap:
		t.maps[op.Map.Name] = nil
	case OpDelMap:
		if t.used(op.Map.Name) {
			return fmt.Errorf("delete of map %s in use", op.Map.Name)
		}
		delete(t.maps, op.Map.Name)
	case OpAddRules:
		for _, r := range op.Chain.Rules {
			for _, to := range append(targets(r), r.refs()...) {
				_, chain := t.chains[to]
				_, m := t.maps[to]
				if !chain && !m {
					return fmt.Errorf("rule in %s refers to missing %s", op.Chain.Name, to)
				}
			}
		}
		t.chains[op.Chain.Name] = append(t.chains[op.Chain.Name], op.Chain.Rules...)
	case OpAddElems:
		for _, e := range op.Map.Elems {
			if _, ok := t.chains[e.Verdict.Chain]; e.Verdict.Chain != "" && !ok {
				return fmt.Errorf("element of %s refers to missing chain %s", op.Map.Name, e.Verdict.Chain)
			}
		}
		t.maps[op.Map.Name] = append(t.maps[op.Map.Name], op.Map.Elems...)
	case OpDelElems:
		for _, e := range op.Map.Elems {
			i := slices.Index(t.maps[op.Map.Name], e)
			if i < 0 {
				return fmt.Errorf("delete of missing element %v from %s", e, op.Map.Name)
			}
			t.maps[op.Map.Name] = slices.Delete(t.maps[op.Map.Name], i, i+1)
		}
	}
	return nil
}

func (t *table) String() string {
	var sb strings.Builder
	for _, name := range slices.Sorted(maps.Keys(t.chains)) {
		fmt.Fprintf(&sb, "chain %s\n", name)
		for _, r := range t.chains[name] {
			fmt.Fprintf(&sb, "\t%s\n", r)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(t.maps)) {
		fmt.Fprintf(&sb, "map %s\n", name)
		es := slices.Clone(t.maps[name])
		slices.SortFunc(es, func(a, b Elem) int { return compareKeys(a.Key, b.Key) })
		for _, e := range es {
			fmt.Fprintf(&sb, "\t%v : %v\n", e.Key, e.Verdict)
		}
	}
	return sb.String()
}

// TestDriftRepair: for each kind of drift, the kernel as the drift
// describes it, after Repair's ops, is the wanted table again, with every
// op valid in the order given, and chains that did not drift untouched.
func TestDriftRepair(t *testing.T) {
	t.Parallel()
	a := web(ep("a", "10.244.0.2", "n1", true), ep("b", "10.244.1.2", "n2", true))
	sticky := a
	sticky.Service, sticky.ClusterIP, sticky.Affinity = "sticky", netip.MustParseAddr("10.96.0.11"), time.Minute
	want := Build(node, []service.Port{a, sticky})
	id, sid := PortID(a), PortID(sticky)
	epA := EndpointChain(id, a.Endpoints[0])
	svcA := ClusterChain(id)
	ipsElem := Elem{Key: Key{Addr: a.ClusterIP, Proto: a.Protocol, Port: a.Port}, Verdict: gotoV(svcA)}
	affB := AffinitySet(sid, sticky.Endpoints[1])
	foreign := Rule{Exprs: []Expr{Verdict{Kind: Jump, Chain: "mine"}}}

	for _, c := range []struct {
		name    string
		drift   Drift
		break_  func(k *table) // the kernel as the drift describes it
		touches []string       // chains and maps the ops may name
	}{
		{"a dnat rule deleted",
			Drift{Chains: []ChainDrift{{Name: epA, State: Changed, Want: 2, Have: 1, Missing: want.Chain(epA).Rules[1:]}}},
			func(k *table) { k.chains[epA] = k.chains[epA][:1] },
			[]string{epA}},
		{"a chain and its element deleted",
			Drift{Chains: []ChainDrift{{Name: svcA, State: Missing, Want: 2, Missing: want.Chain(svcA).Rules}},
				Maps: []MapDrift{{Name: MapServiceIPs, State: Changed, Want: 2, Missing: []Elem{ipsElem}}}},
			func(k *table) {
				delete(k.chains, svcA)
				k.maps[MapServiceIPs] = slices.DeleteFunc(k.maps[MapServiceIPs], func(e Elem) bool { return e == ipsElem })
			},
			[]string{svcA, MapServiceIPs}},
		{"a foreign chain jumped to",
			Drift{Chains: []ChainDrift{{Name: svcA, State: Changed, Want: 2, Have: 3, Extra: []string{"jump mine"}}, {Name: "mine", State: Extra}}},
			func(k *table) {
				k.chains["mine"] = nil
				k.chains[svcA] = append([]Rule{foreign}, k.chains[svcA]...)
			},
			[]string{svcA, "mine"}},
		{"a verdict changed and an element added",
			Drift{Maps: []MapDrift{{Name: MapServiceIPs, State: Changed, Want: 2, Missing: []Elem{ipsElem},
				Extra: []Elem{{Key: ipsElem.Key, Verdict: Verdict{Kind: Drop}}, {Key: Key{Addr: netip.MustParseAddr("10.96.9.9"), Proto: "UDP", Port: 53}, Verdict: Verdict{Kind: Drop}}}}}},
			func(k *table) {
				k.maps[MapServiceIPs] = slices.DeleteFunc(k.maps[MapServiceIPs], func(e Elem) bool { return e == ipsElem })
				k.maps[MapServiceIPs] = append(k.maps[MapServiceIPs], Elem{Key: ipsElem.Key, Verdict: Verdict{Kind: Drop}},
					Elem{Key: Key{Addr: netip.MustParseAddr("10.96.9.9"), Proto: "UDP", Port: 53}, Verdict: Verdict{Kind: Drop}})
			},
			[]string{MapServiceIPs}},
		{"an affinity set deleted with the rules using it",
			Drift{Chains: []ChainDrift{
				{Name: ClusterChain(sid), State: Changed, Want: 4, Have: 3, Missing: want.Chain(ClusterChain(sid)).Rules[1:2]},
				{Name: EndpointChain(sid, sticky.Endpoints[1]), State: Changed, Want: 3, Have: 2, Missing: want.Chain(EndpointChain(sid, sticky.Endpoints[1])).Rules[1:2]}},
				Maps: []MapDrift{{Name: affB, Key: KeyAddr, State: Missing}}},
			func(k *table) {
				k.chains[ClusterChain(sid)] = slices.Delete(k.chains[ClusterChain(sid)], 1, 2)
				k.chains[EndpointChain(sid, sticky.Endpoints[1])] = slices.Delete(k.chains[EndpointChain(sid, sticky.Endpoints[1])], 1, 2)
				delete(k.maps, affB)
			},
			[]string{ClusterChain(sid), EndpointChain(sid, sticky.Endpoints[1]), affB}},
		{"a foreign map", Drift{Maps: []MapDrift{{Name: "theirs", State: Extra}}},
			func(k *table) { k.maps["theirs"] = nil }, []string{"theirs"}},
	} {
		k := tableOf(want)
		c.break_(k)
		ops, reload := c.drift.Repair(want)
		if reload {
			t.Errorf("%s: asks for a reload", c.name)
			continue
		}
		for _, op := range ops {
			name := ""
			if op.Chain != nil {
				name = op.Chain.Name
			} else {
				name = op.Map.Name
			}
			if !slices.Contains(c.touches, name) {
				t.Errorf("%s: op %s touches what did not drift", c.name, op)
			}
			if err := k.apply(op); err != nil {
				t.Errorf("%s: %s: %v", c.name, op, err)
			}
		}
		if got, wantText := k.String(), tableOf(want).String(); got != wantText {
			t.Errorf("%s: after %v the table is\n%s\nwant\n%s", c.name, ops, got, wantText)
		}
	}

	for _, d := range []Drift{{NoTable: true}, {Chains: []ChainDrift{{Name: "nat-output", State: Changed, Redefined: "priority 0"}}},
		{Maps: []MapDrift{{Name: MapServiceIPs, State: Changed, Redefined: "key length 8"}}}} {
		if _, reload := d.Repair(want); !reload {
			t.Errorf("%v: no reload", d.Lines())
		}
	}
	if ops, reload := (&Drift{}).Repair(want); ops != nil || reload {
		t.Errorf("no drift: %v %v", ops, reload)
	}
}

func TestDriftLines(t *testing.T) {
	t.Parallel()
	dnat := Rule{Exprs: []Expr{L4Proto{"TCP"}, DNAT{Addr: netip.MustParseAddr("10.244.0.2"), Port: 8080}}}
	for _, c := range []struct {
		d    Drift
		want string
	}{
		{Drift{NoTable: true}, "table ip kinn missing"},
		{Drift{Chains: []ChainDrift{{Name: "ep-x", State: Changed, Want: 2, Have: 1, Missing: []Rule{dnat}}}},
			"chain ep-x had 1 of 2 rules; missing: meta l4proto tcp dnat to 10.244.0.2:8080"},
		{Drift{Chains: []ChainDrift{{Name: "svc-x", State: Changed, Want: 2, Have: 3, Extra: []string{"handle 9: counter drop"}}}},
			"chain svc-x had 1 rule kinn did not write; extra: handle 9: counter drop"},
		{Drift{Chains: []ChainDrift{{Name: "svc-x", State: Changed, Want: 2, Have: 2, Reordered: true}}},
			"chain svc-x had its 2 rules out of order"},
		{Drift{Chains: []ChainDrift{{Name: "svc-x", State: Missing, Want: 3}}}, "chain svc-x missing (3 rules)"},
		{Drift{Chains: []ChainDrift{{Name: "mine", State: Extra, Have: 1}}}, "chain mine is not kinn's (1 rule)"},
		{Drift{Maps: []MapDrift{{Name: MapServiceIPs, Key: KeyServiceIP, State: Changed, Want: 3,
			Missing: []Elem{{Key: Key{Addr: netip.MustParseAddr("10.96.0.1"), Proto: "TCP", Port: 443}, Verdict: gotoV("svc-k")}}}}},
			"map service-ips had 2 of 3 elements; missing: 10.96.0.1 . tcp . 443 : goto svc-k"},
	} {
		if got := strings.Join(c.d.Lines(), "\n"); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
	if (&Drift{}).Lines() != nil || !(*Drift)(nil).Empty() {
		t.Error("an empty drift says something")
	}
}
