package netpoltest

import (
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"kinn.dev/kinn/lab/netpol"
)

// Builders in the shape of upstream's GenNetworkPolicy helpers, so that each
// case below reads like the upstream It it ports.

type setFunc func(*networkingv1.NetworkPolicy)

// policy is GenNetworkPolicyWithNameAndPodSelector in namespace x.
func policy(name string, sel metav1.LabelSelector, sets ...setFunc) *networkingv1.NetworkPolicy {
	np := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "x"},
		Spec:       networkingv1.NetworkPolicySpec{PodSelector: sel},
	}
	for _, set := range sets {
		set(np)
	}
	return np
}

func namespace(ns string) setFunc {
	return func(np *networkingv1.NetworkPolicy) { np.Namespace = ns }
}

// ingress is SetSpecIngressRules: the first call lists Ingress in policyTypes.
func ingress(rules ...networkingv1.NetworkPolicyIngressRule) setFunc {
	return func(np *networkingv1.NetworkPolicy) {
		if np.Spec.Ingress == nil {
			np.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{}
			np.Spec.PolicyTypes = append(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress)
		}
		np.Spec.Ingress = append(np.Spec.Ingress, rules...)
	}
}

// egress is SetSpecEgressRules.
func egress(rules ...networkingv1.NetworkPolicyEgressRule) setFunc {
	return func(np *networkingv1.NetworkPolicy) {
		if np.Spec.Egress == nil {
			np.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{}
			np.Spec.PolicyTypes = append(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress)
		}
		np.Spec.Egress = append(np.Spec.Egress, rules...)
	}
}

func from(peers ...networkingv1.NetworkPolicyPeer) networkingv1.NetworkPolicyIngressRule {
	return networkingv1.NetworkPolicyIngressRule{From: peers}
}

func to(peers ...networkingv1.NetworkPolicyPeer) networkingv1.NetworkPolicyEgressRule {
	return networkingv1.NetworkPolicyEgressRule{To: peers}
}

func inPorts(ports ...networkingv1.NetworkPolicyPort) networkingv1.NetworkPolicyIngressRule {
	return networkingv1.NetworkPolicyIngressRule{Ports: ports}
}

func outPorts(ports ...networkingv1.NetworkPolicyPort) networkingv1.NetworkPolicyEgressRule {
	return networkingv1.NetworkPolicyEgressRule{Ports: ports}
}

// labels is a MatchLabels selector; labels() is the empty one, {}.
func labels(kv ...string) metav1.LabelSelector {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return metav1.LabelSelector{MatchLabels: m}
}

func expr(key string, op metav1.LabelSelectorOperator, values ...string) metav1.LabelSelector {
	return metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: key, Operator: op, Values: values}}}
}

const nameLabel = netpol.NameLabel

func nsNamed(ns string) metav1.LabelSelector { return labels(nameLabel, ns) }

func podPeer(sel metav1.LabelSelector) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{PodSelector: &sel}
}

func nsPeer(sel metav1.LabelSelector) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{NamespaceSelector: &sel}
}

func bothPeer(ns, pod metav1.LabelSelector) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{NamespaceSelector: &ns, PodSelector: &pod}
}

func blockPeer(cidr netip.Prefix, except ...netip.Prefix) networkingv1.NetworkPolicyPeer {
	b := &networkingv1.IPBlock{CIDR: cidr.String()}
	for _, e := range except {
		b.Except = append(b.Except, e.String())
	}
	return networkingv1.NetworkPolicyPeer{IPBlock: b}
}

// port is a numeric port; proto "" leaves the protocol to the defaulting.
func port(n int32, proto corev1.Protocol) networkingv1.NetworkPolicyPort {
	p := intstr.FromInt32(n)
	return networkingv1.NetworkPolicyPort{Port: &p, Protocol: protoPtr(proto)}
}

func namedPort(name string, proto corev1.Protocol) networkingv1.NetworkPolicyPort {
	p := intstr.FromString(name)
	return networkingv1.NetworkPolicyPort{Port: &p, Protocol: protoPtr(proto)}
}

func protoPtr(proto corev1.Protocol) *corev1.Protocol {
	if proto == "" {
		return nil
	}
	return &proto
}

const (
	tcp  = corev1.ProtocolTCP
	udp  = corev1.ProtocolUDP
	sctp = corev1.ProtocolSCTP
)

func probe(proto corev1.Protocol, port int32, expect ...Expectation) Probe {
	return Probe{Protocol: proto, Port: port, Expect: expect}
}

func allow(from, to string) Expectation { return Expectation{from, to, true} }
func deny(from, to string) Expectation  { return Expectation{from, to, false} }

// host is the /32 (or /128) of one address.
func host(a netip.Addr) netip.Prefix { return netip.PrefixFrom(a, a.BitLen()) }

// large is upstream's makeLargeCIDRForIP: the /4 around a.
func large(a netip.Addr) netip.Prefix { return netip.PrefixFrom(a, 4).Masked() }
