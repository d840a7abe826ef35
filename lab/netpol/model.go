package netpol

import (
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// A Policy is a NetworkPolicy as the API server stores it (defaulted,
// valid), with its selectors and CIDRs parsed once.
type Policy struct {
	Namespace, Name string
	Spec            networkingv1.NetworkPolicySpec // defaulted

	selects                   labels.Selector
	ingress, egress           bool // policyTypes
	ingressRules, egressRules []Rule
}

// Key is namespace/name, the order policies are tried in.
func (p *Policy) Key() string { return p.Namespace + "/" + p.Name }

// A Rule is one ingress or egress rule. Peers nil means every peer (from/to
// absent or empty), Ports nil every port of every protocol.
type Rule struct {
	Peers []Peer
	Ports []Port
}

// A Peer is an ipBlock or selectors. Pods and Namespaces are nil when absent:
// a lone podSelector means the policy's namespace, while an empty one ({})
// means every pod.
type Peer struct {
	Pods, Namespaces labels.Selector
	Block            *Block
	src              networkingv1.NetworkPolicyPeer
}

// A Block is an ipBlock: CIDR minus every Except.
type Block struct {
	CIDR   netip.Prefix
	Except []netip.Prefix
}

// Contains says whether a is in the block: in CIDR and in no Except.
func (b *Block) Contains(a netip.Addr) bool {
	if !b.CIDR.Contains(a) {
		return false
	}
	for _, e := range b.Except {
		if e.Contains(a) {
			return false
		}
	}
	return true
}

// A Port is one entry of a rule's ports. Any means no port (every port of
// Protocol); Name is a named port, resolved on the destination pod; otherwise
// Number..End (End == Number without endPort).
type Port struct {
	Protocol    corev1.Protocol
	Any         bool
	Number, End int32
	Name        string
}

// Compile defaults and validates np, and parses it into a Policy. np is not
// changed.
func Compile(np *networkingv1.NetworkPolicy) (*Policy, error) {
	np = np.DeepCopy()
	Default(np)
	if errs := Validate(np); len(errs) > 0 {
		return nil, errs
	}
	p := &Policy{Namespace: np.Namespace, Name: np.Name, Spec: np.Spec}
	p.selects = mustSelector(&np.Spec.PodSelector)
	for _, t := range np.Spec.PolicyTypes {
		p.ingress = p.ingress || t == networkingv1.PolicyTypeIngress
		p.egress = p.egress || t == networkingv1.PolicyTypeEgress
	}
	for _, r := range np.Spec.Ingress {
		p.ingressRules = append(p.ingressRules, compileRule(r.From, r.Ports))
	}
	for _, r := range np.Spec.Egress {
		p.egressRules = append(p.egressRules, compileRule(r.To, r.Ports))
	}
	return p, nil
}

// Isolates says whether p restricts dir for the pods it selects: only the
// policyTypes count, so rules of an unlisted type are ignored.
func (p *Policy) Isolates(dir Direction) bool {
	if dir == Ingress {
		return p.ingress
	}
	return p.egress
}

// Rules returns p's rules for dir.
func (p *Policy) Rules(dir Direction) []Rule {
	if dir == Ingress {
		return p.ingressRules
	}
	return p.egressRules
}

// Selects says whether p applies to pod.
func (p *Policy) Selects(pod *Pod) bool {
	return pod.Namespace == p.Namespace && p.selects.Matches(labels.Set(pod.Labels))
}

func compileRule(peers []networkingv1.NetworkPolicyPeer, ports []networkingv1.NetworkPolicyPort) Rule {
	var r Rule
	for _, src := range peers {
		peer := Peer{src: src}
		if src.PodSelector != nil {
			peer.Pods = mustSelector(src.PodSelector)
		}
		if src.NamespaceSelector != nil {
			peer.Namespaces = mustSelector(src.NamespaceSelector)
		}
		if src.IPBlock != nil {
			peer.Block = compileBlock(src.IPBlock)
		}
		r.Peers = append(r.Peers, peer)
	}
	for _, src := range ports {
		r.Ports = append(r.Ports, compilePort(src))
	}
	return r
}

func compileBlock(b *networkingv1.IPBlock) *Block {
	out := &Block{CIDR: netip.MustParsePrefix(b.CIDR).Masked()}
	for _, e := range b.Except {
		out.Except = append(out.Except, netip.MustParsePrefix(e).Masked())
	}
	return out
}

func compilePort(src networkingv1.NetworkPolicyPort) Port {
	p := Port{Protocol: *src.Protocol}
	switch {
	case src.Port == nil:
		p.Any = true
	case src.Port.Type == intstr.String:
		p.Name = src.Port.StrVal
	default:
		p.Number, p.End = src.Port.IntVal, src.Port.IntVal
		if src.EndPort != nil {
			p.End = *src.EndPort
		}
	}
	return p
}

// mustSelector parses a selector Validate accepted.
func mustSelector(ls *metav1.LabelSelector) labels.Selector {
	sel, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil {
		panic(fmt.Sprintf("netpol: validated selector does not parse: %v", err))
	}
	return sel
}
