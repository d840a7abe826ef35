package netpol

import (
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// These checks follow the API server's ValidateNetworkPolicy
// (pkg/apis/networking/validation), so that kinn refuses exactly what a
// cluster would refuse, field by field.

var protocols = []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP}

// Default applies the API server's defaults in place: a port's protocol is
// TCP, and policyTypes, when empty, is [Ingress] plus Egress only if there
// are egress rules (so `egress: []` isolates nothing).
func Default(np *networkingv1.NetworkPolicy) {
	spec := &np.Spec
	for i := range spec.Ingress {
		defaultPorts(spec.Ingress[i].Ports)
	}
	for i := range spec.Egress {
		defaultPorts(spec.Egress[i].Ports)
	}
	if len(spec.PolicyTypes) == 0 {
		spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
		if len(spec.Egress) > 0 {
			spec.PolicyTypes = append(spec.PolicyTypes, networkingv1.PolicyTypeEgress)
		}
	}
}

func defaultPorts(ports []networkingv1.NetworkPolicyPort) {
	for i := range ports {
		if ports[i].Protocol == nil {
			tcp := corev1.ProtocolTCP
			ports[i].Protocol = &tcp
		}
	}
}

// Validate returns every problem in np, as the API server would report them.
// It does not change np; call it before or after Default.
func Validate(np *networkingv1.NetworkPolicy) FieldErrors {
	var errs FieldErrors
	validateMeta(&errs, &np.ObjectMeta)
	spec := np.Spec
	p := Path{"spec"}
	validateSelector(&errs, &spec.PodSelector, p.with("podSelector"))
	for i, rule := range spec.Ingress {
		rp := p.with("ingress", i)
		validatePorts(&errs, rule.Ports, rp.with("ports"))
		validatePeers(&errs, rule.From, rp.with("from"))
	}
	for i, rule := range spec.Egress {
		rp := p.with("egress", i)
		validatePorts(&errs, rule.Ports, rp.with("ports"))
		validatePeers(&errs, rule.To, rp.with("to"))
	}
	validatePolicyTypes(&errs, spec.PolicyTypes, p.with("policyTypes"))
	return errs
}

func validateMeta(errs *FieldErrors, meta *metav1.ObjectMeta) {
	p := Path{"metadata"}
	if meta.Name == "" {
		errs.add(p.with("name"), "name is required")
	} else if msgs := validation.IsDNS1123Subdomain(meta.Name); len(msgs) > 0 {
		errs.add(p.with("name"), "%q is invalid: %s", meta.Name, strings.Join(msgs, "; "))
	}
	if meta.Namespace == "" {
		errs.add(p.with("namespace"), "namespace is required")
	} else if msgs := validation.IsDNS1123Label(meta.Namespace); len(msgs) > 0 {
		errs.add(p.with("namespace"), "%q is invalid: %s", meta.Namespace, strings.Join(msgs, "; "))
	}
	errs.addList(metav1validation.ValidateLabels(meta.Labels, field.NewPath("metadata", "labels")))
}

func validateSelector(errs *FieldErrors, sel *metav1.LabelSelector, p Path) {
	errs.addList(metav1validation.ValidateLabelSelector(sel, metav1validation.LabelSelectorValidationOptions{}, fieldPath(p)))
}

// fieldPath turns a Path into apimachinery's, for its validators.
func fieldPath(p Path) *field.Path {
	var fp *field.Path
	for _, e := range p {
		switch e := e.(type) {
		case int:
			fp = fp.Index(e)
		case string:
			if fp == nil {
				fp = field.NewPath(e)
			} else {
				fp = fp.Child(e)
			}
		}
	}
	return fp
}

func validatePolicyTypes(errs *FieldErrors, types []networkingv1.PolicyType, p Path) {
	if len(types) > 2 {
		errs.add(p, "may not specify more than two policyTypes")
		return
	}
	for i, t := range types {
		if t != networkingv1.PolicyTypeIngress && t != networkingv1.PolicyTypeEgress {
			errs.add(p.with(i), "unsupported value %q: supported values: \"Ingress\", \"Egress\"", t)
		}
	}
}

func validatePorts(errs *FieldErrors, ports []networkingv1.NetworkPolicyPort, p Path) {
	for i, port := range ports {
		validatePort(errs, port, p.with(i))
	}
}

// validatePort: endPort only makes sense after a numeric port, and a named
// port must look like a containerPort name.
func validatePort(errs *FieldErrors, port networkingv1.NetworkPolicyPort, p Path) {
	if port.Protocol != nil && !slices.Contains(protocols, *port.Protocol) {
		errs.add(p.with("protocol"), "unsupported value %q: supported values: \"TCP\", \"UDP\", \"SCTP\"", *port.Protocol)
	}
	switch {
	case port.Port == nil:
		if port.EndPort != nil {
			errs.add(p.with("endPort"), "may not be specified when `port` is not specified")
		}
	case port.Port.Type == intstr.Int:
		if msgs := validation.IsValidPortNum(int(port.Port.IntVal)); len(msgs) > 0 {
			errs.add(p.with("port"), "%d: %s", port.Port.IntVal, strings.Join(msgs, "; "))
		}
		if port.EndPort != nil {
			if *port.EndPort < port.Port.IntVal {
				errs.add(p.with("endPort"), "%d: must be greater than or equal to `port` (%d)", *port.EndPort, port.Port.IntVal)
			}
			if msgs := validation.IsValidPortNum(int(*port.EndPort)); len(msgs) > 0 {
				errs.add(p.with("endPort"), "%d: %s", *port.EndPort, strings.Join(msgs, "; "))
			}
		}
	default:
		if port.EndPort != nil {
			errs.add(p.with("endPort"), "may not be specified when `port` is non-numeric")
		}
		if msgs := validation.IsValidPortName(port.Port.StrVal); len(msgs) > 0 {
			errs.add(p.with("port"), "%q: %s", port.Port.StrVal, strings.Join(msgs, "; "))
		}
	}
}

func validatePeers(errs *FieldErrors, peers []networkingv1.NetworkPolicyPeer, p Path) {
	for i, peer := range peers {
		validatePeer(errs, peer, p.with(i))
	}
}

// validatePeer: a peer is selectors (ANDed) or an ipBlock, never both, never
// nothing.
func validatePeer(errs *FieldErrors, peer networkingv1.NetworkPolicyPeer, p Path) {
	n := 0
	if peer.PodSelector != nil {
		n++
		validateSelector(errs, peer.PodSelector, p.with("podSelector"))
	}
	if peer.NamespaceSelector != nil {
		n++
		validateSelector(errs, peer.NamespaceSelector, p.with("namespaceSelector"))
	}
	if peer.IPBlock != nil {
		n++
		validateIPBlock(errs, peer.IPBlock, p.with("ipBlock"))
	}
	switch {
	case n == 0:
		errs.add(p, "must specify a peer")
	case n > 1 && peer.IPBlock != nil:
		errs.add(p, "may not specify both ipBlock and another peer")
	}
}

// validateIPBlock: every except must be a strict subset of cidr.
func validateIPBlock(errs *FieldErrors, b *networkingv1.IPBlock, p Path) {
	if b.CIDR == "" {
		errs.add(p.with("cidr"), "cidr is required")
		return
	}
	cidr, err := netip.ParsePrefix(b.CIDR)
	if err != nil {
		errs.add(p.with("cidr"), "%q must be a valid CIDR, such as 10.0.0.0/8", b.CIDR)
		return
	}
	cidr = cidr.Masked()
	for i, s := range b.Except {
		ep := p.with("except", i)
		except, err := netip.ParsePrefix(s)
		switch {
		case err != nil:
			errs.add(ep, "%q must be a valid CIDR", s)
		case !cidr.Contains(except.Addr()) || except.Bits() <= cidr.Bits():
			errs.add(ep, "%s must be a strict subset of `cidr` %s", s, cidr)
		}
	}
}
