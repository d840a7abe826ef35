package trace

import (
	"fmt"
	"sort"
	"strings"

	"kinn.dev/kinn/lab/proxy"
)

// Rules of other tables: a namespace of the lab may hold tables kinn did
// not write (portmap's cni_hostport, another CNI plugin's, iptables-nft's
// nat and filter). Their rules are told as the kernel holds them: the text
// read back from their expressions, and an owner only where the rule
// itself names one (portmap writes the pod's CNI container ID in each
// rule's comment), never from the table's or chain's name.

// TableRuleKey names a rule of any table in one namespace, as trace
// events do.
type TableRuleKey struct {
	Table, Chain string
	Handle       uint64
}

// TableRule is a rule as read back from the kernel.
type TableRule struct {
	Family  string // ip, inet, ...
	Text    string // nft syntax, rendered from its expressions
	Comment string // its user data comment, if any
	NAT     string // the translation it makes: "dnat to 10.244.1.5:8080", "masquerade"
}

// otherRuleHop tells the event of a rule of another table, when that
// table was read back.
func (in Input) otherRuleHop(h Hop, ev Event) (Hop, bool) {
	r, ok := in.Others[ev.Netns][TableRuleKey{ev.Table, ev.Chain, ev.Handle}]
	if !ok {
		return h, false
	}
	h.Rule = r.Text
	h.Action = ev.Verdict.String()
	switch {
	case strings.HasPrefix(r.NAT, "dnat to "):
		h.Action = "DNAT to " + strings.TrimPrefix(r.NAT, "dnat to ")
	case strings.HasPrefix(r.NAT, "snat to "):
		h.Action = "SNAT to " + strings.TrimPrefix(r.NAT, "snat to ")
	case strings.HasPrefix(r.NAT, "masquerade"):
		h.Action = "masquerade (source NAT to the outgoing interface's address)"
	case ev.Verdict == VerdictJump || ev.Verdict == VerdictGoto:
		h.Action += " " + ev.Target
	}
	h.Detail = fmt.Sprintf("table %s %s chain %s, rule handle %d (not kinn's)", r.Family, ev.Table, ev.Chain, ev.Handle)
	if ev.Table == proxy.TableName {
		h.Detail = fmt.Sprintf("table %s %s chain %s, rule handle %d: the chain is not as kinn builds it (edited by hand, or not yet synced); the rule as the kernel holds it",
			r.Family, ev.Table, ev.Chain, ev.Handle)
	}
	if pod := in.sandboxIn(r.Comment); pod != "" {
		ns, name, _ := strings.Cut(pod, "/")
		h.Owner = &Owner{Kind: "Pod", Namespace: ns, Name: name}
		h.Detail += ": its comment names pod " + pod + "'s sandbox"
	}
	if ev.Verdict == VerdictDrop {
		h.Component = CompDrop
	}
	return h, true
}

// sandboxIn is the pod whose CNI container ID a rule's comment holds
// (portmap's nftables rules carry the ID alone, its iptables rules
// `name: "NET" id: "ID"`); "" when it names none.
func (in Input) sandboxIn(comment string) string {
	if comment == "" {
		return ""
	}
	ids := make([]string, 0, len(in.Sandboxes))
	for id := range in.Sandboxes {
		ids = append(ids, id)
	}
	sort.Strings(ids) // the same answer every time, were two to match
	for _, id := range ids {
		if id != "" && strings.Contains(comment, id) {
			return in.Sandboxes[id]
		}
	}
	return ""
}
