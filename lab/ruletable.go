package lab

import (
	"fmt"

	"kinn.dev/kinn/lab/kernel/nft"
	"kinn.dev/kinn/lab/proxy"
)

// TableObjectView is one fixed chain, set or map of a node's kinn table,
// or one family of per-Service objects, with what it is for: the machinery
// a learner meets in `kinn rules -o nft` besides the Services' own chains.
type TableObjectView struct {
	Name string `json:"name"` // a family's is its prefix followed by "*"
	Kind string `json:"kind"` // chain, set or map
	// Hook is "TYPE HOOK PRIORITY" for a chain netfilter calls.
	Hook string `json:"hook,omitempty"`
	// Packets and Bytes are the chain's counter (first in its first
	// rule), when the kernel has it.
	Packets *uint64 `json:"packets,omitempty"`
	Bytes   *uint64 `json:"bytes,omitempty"`
	// Elements is a set's or map's element count in the kernel.
	Elements *int `json:"elements,omitempty"`
	// Count is how many objects of a family the node's table has.
	Count     *int   `json:"count,omitempty"`
	KubeProxy string `json:"kubeProxy,omitempty"` // kube-proxy's name, when it differs
	Short     string `json:"short"`
	Meaning   string `json:"meaning"`
}

// tableViews lists the fixed objects of want and its per-Service families
// in the order of proxy.Meanings (the order a packet meets them), with the
// live counters and element counts seen in the kernel. An object without a
// meaning (TestEveryBuiltObjectHasAMeaning keeps there being none) comes
// last, named all the same.
func tableViews(want *proxy.Ruleset, seen nft.Seen) []TableObjectView {
	hooks := map[string]string{}
	names := map[string]bool{}
	families := map[string]int{}
	var unknown []TableObjectView
	note := func(name, kind string) {
		m, ok := proxy.MeaningOf(name)
		switch {
		case !ok:
			unknown = append(unknown, TableObjectView{Name: name, Kind: kind})
		case m.PerService:
			families[m.Name]++
		default:
			names[name] = true
		}
	}
	for _, c := range want.Chains {
		if h := c.Hook; h != nil {
			hooks[c.Name] = fmt.Sprintf("%s %s %d", h.Type, h.Hook, h.Priority)
		}
		note(c.Name, "chain")
	}
	for _, m := range want.Maps {
		note(m.Name, mapKind(m))
	}
	var out []TableObjectView
	for _, m := range proxy.Meanings() {
		v := TableObjectView{Name: m.Name, Kind: m.Kind, KubeProxy: m.KubeProxy, Short: m.Short, Meaning: m.Text}
		switch {
		case m.PerService:
			n := families[m.Name]
			if n == 0 {
				continue
			}
			v.Name, v.Count = m.Name+"*", &n
		case !names[m.Name]:
			continue
		default:
			v.Hook = hooks[m.Name]
			seenObject(&v, seen)
		}
		if m.KubeProxy != "" && m.PerService {
			v.KubeProxy = m.KubeProxy + "*"
		}
		out = append(out, v)
	}
	for _, v := range unknown {
		seenObject(&v, seen)
		out = append(out, v)
	}
	return out
}

// seenObject adds what the kernel has of a fixed object: a chain's
// counter, a set's or map's element count.
func seenObject(v *TableObjectView, seen nft.Seen) {
	if v.Kind == "chain" {
		if c, ok := seen.Counters[v.Name]; ok {
			v.Packets, v.Bytes = &c.Packets, &c.Bytes
		}
		return
	}
	if n, ok := seen.Elements[v.Name]; ok {
		v.Elements = &n
	}
}

func mapKind(m *proxy.Map) string {
	if m.IsSet() {
		return "set"
	}
	return "map"
}
