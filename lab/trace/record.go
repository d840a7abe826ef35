package trace

import (
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"

	"kinn.dev/kinn/lab/proxy"
)

// A recording is what the kernel told about one probe (an Input) with the
// trace's title, as JSON (`kinn trace --record FILE`): the journey can be
// told again from it without a lab, for a bug report or a golden test.
// Input is all plain data but for its maps keyed by structs and the
// rules' expressions (an interface), which are written as lists and as
// {"type": NAME, "value": {...}}.

// Recording is one recorded trace.
type Recording struct {
	Title string `json:"title"`
	Input Input  `json:"input"`
}

// WriteRecording writes a recording as indented JSON, with the rules no
// event names left out (a node's table has hundreds; they tell nothing).
func WriteRecording(w io.Writer, r Recording) error {
	in := r.Input
	named := map[string]bool{}
	for _, ev := range in.Events {
		named[fmt.Sprint(ev.Netns, ev.Table, ev.Chain, ev.Handle)] = true
	}
	in.Rules = keep(r.Input.Rules, func(ns string, k RuleKey) bool { return named[fmt.Sprint(ns, proxy.TableName, k.Chain, k.Handle)] })
	in.Others = keep(r.Input.Others, func(ns string, k TableRuleKey) bool { return named[fmt.Sprint(ns, k.Table, k.Chain, k.Handle)] })
	r.Input = in
	e := json.NewEncoder(w)
	e.SetIndent("", " ")
	return e.Encode(r)
}

// keep is m, per namespace, with only the entries ok keeps (and every
// namespace, also one left empty).
func keep[K comparable, V any](m map[string]map[K]V, ok func(ns string, k K) bool) map[string]map[K]V {
	out := map[string]map[K]V{}
	for ns, entries := range m {
		out[ns] = map[K]V{}
		for k, v := range entries {
			if ok(ns, k) {
				out[ns][k] = v
			}
		}
	}
	return out
}

// ReadRecording reads what WriteRecording wrote.
func ReadRecording(r io.Reader) (Recording, error) {
	var rec Recording
	err := json.NewDecoder(r).Decode(&rec)
	return rec, err
}

// inputJSON shadows Input's struct-keyed maps with lists.
type inputJSON struct {
	inputAlias
	Rules  []recordedRule  `json:"Rules"`
	Others []recordedOther `json:"Others"`
	// Tables lists the namespaces whose kinn table was read, also
	// where no rule of it is recorded.
	Tables []string
}

type inputAlias Input // Input without its methods: no recursion

type recordedRule struct {
	Netns  string
	Chain  string
	Handle uint64
	Info   recordedInfo
}

type recordedInfo struct {
	RuleInfo
	Rule recordedProxyRule
}

type recordedProxyRule struct {
	Exprs   []recordedExpr
	Comment string `json:",omitempty"`
}

type recordedExpr struct {
	Type  string          `json:"type"`
	Value json.RawMessage `json:"value"`
}

type recordedOther struct {
	Netns string
	TableRuleKey
	TableRule
}

// MarshalJSON writes the input with its maps as sorted lists.
func (in Input) MarshalJSON() ([]byte, error) {
	out := inputJSON{inputAlias: inputAlias(in)}
	for ns, rules := range in.Rules {
		out.Tables = append(out.Tables, ns)
		for k, ri := range rules {
			pr, err := recordRule(ri.Rule)
			if err != nil {
				return nil, err
			}
			out.Rules = append(out.Rules, recordedRule{Netns: ns, Chain: k.Chain, Handle: k.Handle, Info: recordedInfo{RuleInfo: ri, Rule: pr}})
		}
	}
	slices.Sort(out.Tables)
	slices.SortFunc(out.Rules, func(a, b recordedRule) int {
		return strings.Compare(fmt.Sprintf("%s %s %020d", a.Netns, a.Chain, a.Handle), fmt.Sprintf("%s %s %020d", b.Netns, b.Chain, b.Handle))
	})
	for ns, rules := range in.Others {
		for k, r := range rules {
			out.Others = append(out.Others, recordedOther{Netns: ns, TableRuleKey: k, TableRule: r})
		}
	}
	slices.SortFunc(out.Others, func(a, b recordedOther) int {
		return strings.Compare(fmt.Sprintf("%s %s %s %020d", a.Netns, a.Table, a.Chain, a.Handle), fmt.Sprintf("%s %s %s %020d", b.Netns, b.Table, b.Chain, b.Handle))
	})
	return json.Marshal(out)
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (in *Input) UnmarshalJSON(b []byte) error {
	var raw inputJSON
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*in = Input(raw.inputAlias)
	in.Rules = map[string]map[RuleKey]RuleInfo{}
	for _, ns := range raw.Tables {
		in.Rules[ns] = map[RuleKey]RuleInfo{}
	}
	for _, r := range raw.Rules {
		ri := r.Info.RuleInfo
		exprs, err := replayExprs(r.Info.Rule.Exprs)
		if err != nil {
			return err
		}
		ri.Rule = proxy.Rule{Exprs: exprs, Comment: r.Info.Rule.Comment}
		if in.Rules[r.Netns] == nil {
			in.Rules[r.Netns] = map[RuleKey]RuleInfo{}
		}
		in.Rules[r.Netns][RuleKey{r.Chain, r.Handle}] = ri
	}
	if raw.Others != nil {
		in.Others = map[string]map[TableRuleKey]TableRule{}
	}
	for _, o := range raw.Others {
		if in.Others[o.Netns] == nil {
			in.Others[o.Netns] = map[TableRuleKey]TableRule{}
		}
		in.Others[o.Netns][o.TableRuleKey] = o.TableRule
	}
	return nil
}

// exprTypes are the expressions of package proxy, by name. A rule with
// another fails to record, rather than record something unreadable.
var exprTypes = func() map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for _, e := range []proxy.Expr{proxy.Counter{}, proxy.CtState{}, proxy.L4Proto{}, proxy.SaddrIs{}, proxy.FibLocal{},
		proxy.IifName{}, proxy.SaddrIn{}, proxy.SaddrPrefix{}, proxy.DaddrIn{}, proxy.DaddrPrefix{}, proxy.UpdateSaddr{},
		proxy.MarkMasq{}, proxy.MarkUnset{}, proxy.MarkClear{}, proxy.Masquerade{}, proxy.DNAT{}, proxy.Reject{},
		proxy.Vmap{}, proxy.RandomIs{}, proxy.Verdict{}} {
		t := reflect.TypeOf(e)
		out[t.Name()] = t
	}
	return out
}()

func recordRule(r proxy.Rule) (recordedProxyRule, error) {
	out := recordedProxyRule{Comment: r.Comment, Exprs: []recordedExpr{}}
	for _, e := range r.Exprs {
		t := reflect.TypeOf(e)
		if exprTypes[t.Name()] != t {
			return out, fmt.Errorf("record rule %q: expression %T is not in trace's exprTypes", r, e)
		}
		v, err := json.Marshal(e)
		if err != nil {
			return out, err
		}
		out.Exprs = append(out.Exprs, recordedExpr{Type: t.Name(), Value: v})
	}
	return out, nil
}

func replayExprs(rs []recordedExpr) ([]proxy.Expr, error) {
	out := make([]proxy.Expr, 0, len(rs))
	for _, r := range rs {
		t, ok := exprTypes[r.Type]
		if !ok {
			return nil, fmt.Errorf("recorded expression of unknown type %q", r.Type)
		}
		v := reflect.New(t)
		if err := json.Unmarshal(r.Value, v.Interface()); err != nil {
			return nil, fmt.Errorf("recorded %s: %w", r.Type, err)
		}
		out = append(out, v.Elem().Interface().(proxy.Expr))
	}
	return out, nil
}
