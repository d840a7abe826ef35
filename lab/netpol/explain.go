package netpol

import (
	"fmt"
	"net/netip"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Explain says why v is what it is, in one line: "allowed by
// default/allow-frontend ingress rule 1 (from podSelector app=frontend, port
// 8080/TCP)", or "denied: pod default/db is isolated for ingress by
// default/db-policy and no rule allows 10.244.2.2:8080/TCP from 10.244.1.3".
// Egress is told first: it is judged first, at the source.
func (v Verdict) Explain() string {
	for _, j := range []Judgement{v.Egress, v.Ingress} {
		if !j.Allowed {
			return "denied: " + v.denial(j)
		}
	}
	if v.Egress.Exempt == exemptOwnIP {
		return "allowed: traffic " + exemptOwnIP + " never leaves it"
	}
	var by []string
	for _, j := range []Judgement{v.Egress, v.Ingress} {
		if j.By != nil {
			by = append(by, "by "+j.By.String()+" ("+j.By.Describe()+")")
		}
	}
	if len(by) > 0 {
		return "allowed " + strings.Join(by, " and ")
	}
	if v.Ingress.Exempt == exemptOwnNode {
		return "allowed: traffic " + exemptOwnNode + " " + v.Ingress.Pod.Node + " is always allowed"
	}
	return "allowed: no policy isolates " + v.notIsolated()
}

func (v Verdict) denial(j Judgement) string {
	names := make([]string, len(j.Isolating))
	for i, p := range j.Isolating {
		names[i] = p.Key()
	}
	dst := v.Flow.Dst.Addr.String()
	if v.Flow.Dst.Addr.IsValid() {
		dst = netip.AddrPortFrom(v.Flow.Dst.Addr, uint16(v.Flow.Port)).String()
	}
	s := fmt.Sprintf("pod %s is isolated for %s by %s and no rule allows %s/%s",
		j.Pod, j.Direction, strings.Join(names, ", "), dst, v.Flow.Protocol)
	if j.Direction == Ingress {
		s += " from " + v.Flow.Src.Addr.String()
	}
	return s
}

// notIsolated names the pods that no policy restricts, for the verdict of a
// flow nothing judged.
func (v Verdict) notIsolated() string {
	var parts []string
	if v.Egress.Pod != nil {
		parts = append(parts, v.Egress.Pod.String()+" for egress")
	}
	if v.Ingress.Pod != nil {
		parts = append(parts, v.Ingress.Pod.String()+" for ingress")
	}
	if len(parts) == 0 {
		return "either end (neither is a pod)"
	}
	return strings.Join(parts, " or ")
}

func (r RuleRef) String() string {
	return fmt.Sprintf("%s %s rule %d", r.Policy.Key(), r.Direction, r.Index)
}

// Describe says what the rule allows: "from podSelector app=frontend, port
// 8080/TCP".
func (r RuleRef) Describe() string {
	rule := r.Rule()
	word := "from"
	if r.Direction == Egress {
		word = "to"
	}
	return word + " " + orList(rule.Peers, "anywhere") + ", " + orList(rule.Ports, "any port")
}

// orList writes xs joined by "or", or none when there are none (a rule's
// absent list means everything).
func orList[T fmt.Stringer](xs []T, none string) string {
	if xs == nil {
		return none
	}
	texts := make([]string, len(xs))
	for i, x := range xs {
		texts[i] = x.String()
	}
	return strings.Join(texts, " or ")
}

func (p Peer) String() string {
	if p.Block != nil {
		return p.Block.String()
	}
	var parts []string
	if p.src.NamespaceSelector != nil {
		parts = append(parts, "namespaceSelector "+selectorText(p.src.NamespaceSelector))
	}
	if p.src.PodSelector != nil {
		parts = append(parts, "podSelector "+selectorText(p.src.PodSelector))
	}
	return strings.Join(parts, " and ")
}

// selectorText writes {} for the empty selector (everything), which
// apimachinery would print as "<none>".
func selectorText(ls *metav1.LabelSelector) string {
	sel := mustSelector(ls)
	if sel.Empty() {
		return "{}"
	}
	return sel.String()
}

func (b *Block) String() string {
	s := "ipBlock " + b.CIDR.String()
	if len(b.Except) > 0 {
		ex := make([]string, len(b.Except))
		for i, e := range b.Except {
			ex[i] = e.String()
		}
		s += " except " + strings.Join(ex, ", ")
	}
	return s
}

func (p Port) String() string {
	switch {
	case p.Any:
		return "any " + string(p.Protocol) + " port"
	case p.Name != "":
		return fmt.Sprintf("port %s/%s", p.Name, p.Protocol)
	case p.End != p.Number:
		return fmt.Sprintf("ports %d-%d/%s", p.Number, p.End, p.Protocol)
	}
	return fmt.Sprintf("port %d/%s", p.Number, p.Protocol)
}
