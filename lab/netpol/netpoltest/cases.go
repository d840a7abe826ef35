package netpoltest

import (
	"net/netip"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Cases returns upstream's cases, transcribed from network_policy.go of the
// 3x3 model (every Expect call kept, in order), skipping the SCTP context:
// kinn cannot serve SCTP. ip gives a pod's address ("y/b") for the ipBlock
// cases.
func Cases(ip func(pod string) netip.Addr) []Case {
	cs := selectorCases()
	cs = append(cs, portCases()...)
	cs = append(cs, updateCases()...)
	cs = append(cs, egressCases()...)
	cs = append(cs, precedenceCases()...)
	cs = append(cs, blockCases(ip)...)
	cs = append(cs, protocolCases()...)
	return append(cs, udpCases()...)
}

func one(it string, policies []*networkingv1.NetworkPolicy, probes ...Probe) Case {
	return Case{Context: ContextTCP, It: it, Steps: []Step{{Policies: policies, Probes: probes}}}
}

func pols(ps ...*networkingv1.NetworkPolicy) []*networkingv1.NetworkPolicy { return ps }

var all = metav1.LabelSelector{}

func selectorCases() []Case {
	return []Case{
		one("should support a 'default-deny-ingress' policy",
			pols(policy("deny-ingress", all, ingress())),
			probe(tcp, 80, deny("", "x"))),
		one("should support a 'default-deny-all' policy",
			pols(policy("deny-all", all, ingress(), egress())),
			probe(tcp, 80, deny("", "x"), deny("x", ""))),
		one("should enforce policy to allow traffic from pods within server namespace based on PodSelector",
			pols(policy("x-a-allows-x-b", labels("pod", "a"), ingress(from(podPeer(labels("pod", "b")))))),
			probe(tcp, 80, deny("", "x/a"), allow("x/b", "x/a"))),
		one("should enforce policy to allow ingress traffic for a target",
			pols(policy("deny-all", all, ingress()),
				policy("allow-all-to-a", labels("pod", "a"), ingress(from(bothPeer(all, all))))),
			probe(tcp, 80, allow("", "x/a"), deny("", "x/b"), deny("", "x/c"))),
		one("should enforce policy to allow ingress traffic from pods in all namespaces",
			pols(policy("allow-from-another-ns", labels("pod", "a"), ingress(from(nsPeer(labels()))))),
			probe(tcp, 80)),
		one("should enforce policy to allow traffic only from a different namespace, based on NamespaceSelector",
			pols(policy("allow-client-a-via-ns-selector", labels("pod", "a"), ingress(from(nsPeer(nsNamed("y")))))),
			probe(tcp, 80, deny("x", "x/a"), deny("z", "x/a"))),
		one("should enforce policy based on PodSelector with MatchExpressions",
			pols(policy("x-a-allows-x-b", labels("pod", "a"), ingress(from(podPeer(expr("pod", metav1.LabelSelectorOpIn, "b")))))),
			probe(tcp, 80, deny("", "x/a"), allow("x/b", "x/a"))),
		one("should enforce policy based on NamespaceSelector with MatchExpressions",
			pols(policy("allow-ns-y-match-selector", labels("pod", "a"),
				ingress(from(nsPeer(expr(nameLabel, metav1.LabelSelectorOpIn, "y")))))),
			probe(tcp, 80, deny("x", "x/a"), deny("z", "x/a"))),
		one("should enforce policy based on PodSelector or NamespaceSelector",
			pols(policy("allow-ns-y-match-selector", labels("pod", "a"),
				ingress(from(nsPeer(expr(nameLabel, metav1.LabelSelectorOpNotIn, "x")), podPeer(labels("pod", "b")))))),
			probe(tcp, 80, deny("x/a", "x/a"), deny("x/c", "x/a"))),
		one("should enforce policy based on PodSelector and NamespaceSelector",
			pols(policy("allow-ns-y-podselector-and-nsselector", labels("pod", "a"),
				ingress(from(bothPeer(expr(nameLabel, metav1.LabelSelectorOpNotIn, "x"), labels("pod", "b")))))),
			probe(tcp, 80, deny("", "x/a"), allow("y/b", "x/a"), allow("z/b", "x/a"))),
		one("should enforce policy based on Multiple PodSelectors and NamespaceSelectors",
			pols(policy("allow-ns-y-z-pod-b-c", labels("pod", "a"),
				ingress(from(bothPeer(expr(nameLabel, metav1.LabelSelectorOpNotIn, "x"), expr("pod", metav1.LabelSelectorOpIn, "b", "c")))))),
			probe(tcp, 80, deny("x", "x/a"), deny("y/a", "x/a"), deny("z/a", "x/a"))),
		one("should enforce policy based on any PodSelectors",
			pols(policy("allow-ns-x-pod-b-c", labels("pod", "a"),
				ingress(from(podPeer(labels("pod", "b")), podPeer(labels("pod", "c")))))),
			probe(tcp, 80, deny("", "x/a"), allow("x/b", "x/a"), allow("x/c", "x/a"))),
		one("should enforce policy to allow traffic only from a pod in a different namespace based on PodSelector and NamespaceSelector",
			pols(policy("allow-ns-y-pod-a-via-namespace-pod-selector", labels("pod", "a"),
				ingress(from(bothPeer(nsNamed("y"), labels("pod", "a")))))),
			probe(tcp, 80, deny("", "x/a"), allow("y/a", "x/a"))),
		one("should deny ingress from pods on other namespaces",
			pols(policy("deny-empty-policy", all, ingress(from(podPeer(labels()))))),
			probe(tcp, 80, deny("y", "x"), deny("z", "x"))),
		one("should enforce policy to allow traffic based on NamespaceSelector with MatchLabels using default ns label",
			pols(policy("allow-client-a-via-ns-selector-for-immutable-ns-label", labels("pod", "a"),
				ingress(from(nsPeer(nsNamed("y")))))),
			probe(tcp, 80, deny("x", "x/a"), deny("z", "x/a"))),
		one("should enforce policy based on NamespaceSelector with MatchExpressions using default ns label",
			pols(policy("allow-ns-y-match-selector-for-immutable-ns-label", labels("pod", "a"),
				egress(to(nsPeer(expr(nameLabel, metav1.LabelSelectorOpNotIn, "y")))))),
			probe(tcp, 80, deny("x/a", "y"))),
	}
}

// fromYOnPort allows namespace y to x/a on one TCP port (the Ports cases).
func fromYOnPort(name string, n int32) *networkingv1.NetworkPolicy {
	return policy(name, labels("pod", "a"), ingress(networkingv1.NetworkPolicyIngressRule{
		From: []networkingv1.NetworkPolicyPeer{nsPeer(nsNamed("y"))}, Ports: []networkingv1.NetworkPolicyPort{port(n, tcp)},
	}))
}

func portCases() []Case {
	allowY := []Expectation{deny("x", "x/a"), allow("y", "x/a"), deny("z", "x/a")}
	return []Case{
		one("should enforce policy based on Ports",
			pols(fromYOnPort("allow-client-a-via-ns-selector", 81)),
			probe(tcp, 81, allowY...)),
		{Context: ContextTCP, It: "should enforce multiple, stacked policies with overlapping podSelectors", Steps: []Step{
			{Policies: pols(fromYOnPort("allow-client-a-via-ns-selector", 81)),
				Probes: []Probe{probe(tcp, 81, allowY...), probe(tcp, 80, deny("", "x/a"))}},
			{Policies: pols(fromYOnPort("allow-client-a-via-ns-selector", 81), fromYOnPort("allow-client-a-via-ns-selector-80", 80)),
				Probes: []Probe{probe(tcp, 80, allowY...)}},
		}},
		one("should support allow-all policy",
			pols(policy("allow-all", labels(), ingress(networkingv1.NetworkPolicyIngressRule{}))),
			probe(tcp, 80), probe(tcp, 81)),
		one("should allow ingress access on one named port",
			pols(policy("allow-all", labels(), ingress(inPorts(namedPort("serve-81-tcp", ""))))),
			probe(tcp, 81), probe(tcp, 80, deny("", "x"))),
		one("should allow ingress access from namespace on one named port",
			pols(policy("allow-client-a-via-ns-selector-80", labels("pod", "a"), ingress(networkingv1.NetworkPolicyIngressRule{
				From:  []networkingv1.NetworkPolicyPeer{nsPeer(nsNamed("y"))},
				Ports: []networkingv1.NetworkPolicyPort{namedPort("serve-80-tcp", tcp)},
			}))),
			probe(tcp, 80, deny("x", "x/a"), deny("z", "x/a")), probe(tcp, 81, deny("", "x/a"))),
		one("should allow egress access on one named port",
			pols(policy("allow-egress", labels(), egress(outPorts(namedPort("serve-80-tcp", ""))))),
			probe(tcp, 80), probe(tcp, 81, deny("x", ""))),
	}
}
