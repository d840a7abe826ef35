package netpoltest

import (
	"net/netip"

	networkingv1 "k8s.io/api/networking/v1"
)

func updateCases() []Case {
	allowAll := policy("allow-all-mutate-to-deny-all", labels(), ingress(networkingv1.NetworkPolicyIngressRule{}))
	denyAll := allowAll.DeepCopy()
	denyAll.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{}
	fromNS2 := policy("allow-client-a-via-ns-selector", labels("pod", "a"), ingress(from(nsPeer(labels("ns2", "updated")))))
	updatedPod := labels("pod", "b", "pod2", "updated")
	fromPod2 := policy("allow-client-a-via-pod-selector", labels("pod", "a"), ingress(from(podPeer(updatedPod))))
	isolated := policy("deny-ingress-via-label-selector", labels("target", "isolated"), ingress())
	return []Case{
		{Context: ContextTCP, It: "should enforce updated policy", Steps: []Step{
			{Policies: pols(allowAll), Probes: []Probe{probe(tcp, 81)}},
			{Policies: pols(denyAll), Probes: []Probe{probe(tcp, 81, deny("", "x"))}},
		}},
		{Context: ContextTCP, It: "should allow ingress access from updated namespace", Steps: []Step{
			{Policies: pols(fromNS2), Probes: []Probe{probe(tcp, 80, deny("", "x/a"))}},
			{Policies: pols(fromNS2), NamespaceLabels: map[string]map[string]string{"y": {"ns2": "updated"}},
				Probes: []Probe{probe(tcp, 80, deny("", "x/a"), allow("y", ""))}},
		}},
		{Context: ContextTCP, It: "should allow ingress access from updated pod", Steps: []Step{
			{Policies: pols(fromPod2), Probes: []Probe{probe(tcp, 80, deny("", "x/a"))}},
			{Policies: pols(fromPod2), PodLabels: map[string]map[string]string{"x/b": updatedPod.MatchLabels},
				Probes: []Probe{probe(tcp, 80, deny("", "x/a"), allow("x/b", "x/a"))}},
		}},
		{Context: ContextTCP, It: "should deny ingress access to updated pod", Steps: []Step{
			{Policies: pols(isolated), Probes: []Probe{probe(tcp, 80)}},
			{Policies: pols(isolated), PodLabels: map[string]map[string]string{"x/a": {"target": "isolated"}},
				Probes: []Probe{probe(tcp, 80, deny("", "x/a"))}},
		}},
		{Context: ContextTCP, It: "should stop enforcing policies after they are deleted", Steps: []Step{
			{Policies: pols(policy("deny-all", all, ingress(), egress())), Probes: []Probe{probe(tcp, 80, deny("x", ""), deny("", "x"))}},
			{Probes: []Probe{probe(tcp, 80)}},
		}},
	}
}

func egressCases() []Case {
	together := policy("allow-client-a-via-pod-selector", labels("pod", "a"), ingress(from(podPeer(labels("pod", "b")))))
	together.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{outPorts(port(80, ""))}
	together.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress, networkingv1.PolicyTypeIngress}
	fromXA := from(bothPeer(nsNamed("x"), labels("pod", "a")))
	return []Case{
		one("should deny egress from pods based on PodSelector",
			pols(policy("deny-egress-pod-a", labels("pod", "a"), egress())),
			probe(tcp, 80, deny("x/a", ""))),
		one("should deny egress from all pods in a namespace",
			pols(policy("deny-egress-ns-x", all, egress())),
			probe(tcp, 80, deny("x", ""))),
		one("should work with Ingress, Egress specified together", pols(together),
			probe(tcp, 80, deny("", "x/a"), allow("x/b", "x/a")),
			probe(tcp, 81, deny("", "x/a"), deny("x/a", ""), allow("x/b", "x/a"))),
		one("should support denying of egress traffic on the client side (even if the server explicitly allows this traffic)",
			pols(policy("allow-to-ns-y-pod-a", labels("pod", "a"), egress(to(bothPeer(nsNamed("y"), labels("pod", "a"))))),
				policy("allow-from-xa-on-ya-match-selector", labels("pod", "a"), namespace("y"), ingress(fromXA)),
				policy("allow-from-xa-on-yb-match-selector", labels("pod", "b"), namespace("y"), ingress(fromXA))),
			probe(tcp, 80, deny("x/a", ""), deny("", "y/a"), allow("x/a", "y/a"), deny("", "y/b"))),
		one("should enforce egress policy allowing traffic to a server in a different namespace based on PodSelector and NamespaceSelector",
			pols(policy("allow-to-ns-y-pod-a", labels("pod", "a"), egress(to(bothPeer(nsNamed("y"), labels("pod", "a")))))),
			probe(tcp, 80, deny("x/a", ""), allow("x/a", "y/a"))),
	}
}

func precedenceCases() []Case {
	in80 := policy("allow-ingress-port-80", labels(), ingress(inPorts(port(80, ""))))
	out80 := policy("allow-egress-port-80", labels(), egress(outPorts(port(80, ""))))
	target := labels("pod", "a")
	allowEgress := policy("allow-egress-for-target", target, egress(networkingv1.NetworkPolicyEgressRule{}))
	return []Case{
		{Context: ContextTCP, It: "should enforce multiple ingress policies with ingress allow-all policy taking precedence", Steps: []Step{
			{Policies: pols(in80), Probes: []Probe{probe(tcp, 81, deny("", "x"))}},
			{Policies: pols(in80, policy("allow-ingress", labels(), ingress(networkingv1.NetworkPolicyIngressRule{}))),
				Probes: []Probe{probe(tcp, 81)}},
		}},
		{Context: ContextTCP, It: "should enforce multiple egress policies with egress allow-all policy taking precedence", Steps: []Step{
			{Policies: pols(out80), Probes: []Probe{probe(tcp, 81, deny("x", ""))}},
			{Policies: pols(out80, policy("allow-egress", labels(), egress(networkingv1.NetworkPolicyEgressRule{}))),
				Probes: []Probe{probe(tcp, 81)}},
		}},
		{Context: ContextTCP, It: "should enforce policies to check ingress and egress policies can be controlled independently based on PodSelector", Steps: []Step{
			{Policies: pols(allowEgress), Probes: []Probe{probe(tcp, 80)}},
			{Policies: pols(allowEgress, policy("deny-ingress-via-label-selector", target, ingress())),
				Probes: []Probe{probe(tcp, 80, deny("", "x/a"))}},
		}},
	}
}

func blockCases(ip func(pod string) netip.Addr) []Case {
	xb := ip("x/b")
	name := "allow-client-a-via-cidr-egress-rule"
	except := policy(name, labels("pod", "a"), egress(to(blockPeer(large(xb), host(xb)))))
	return []Case{
		one("should allow egress access to server in CIDR block",
			pols(policy(name, labels("pod", "a"), egress(to(blockPeer(host(ip("y/b"))))))),
			probe(tcp, 80, deny("x/a", ""), allow("x/a", "y/b"))),
		one("should enforce except clause while egress access to server in CIDR block",
			pols(except), probe(tcp, 80, deny("x/a", "x/b"))),
		{Context: ContextTCP, It: "should ensure an IP overlapping both IPBlock.CIDR and IPBlock.Except is allowed", Steps: []Step{
			{Policies: pols(except), Probes: []Probe{probe(tcp, 80, deny("x/a", "x/b"))}},
			{Policies: pols(policy(name, labels("pod", "a"), egress(to(blockPeer(host(xb)))))),
				Probes: []Probe{probe(tcp, 80, deny("x/a", ""), allow("x/a", "x/b"))}},
		}},
	}
}

func protocolCases() []Case {
	a := labels("pod", "a")
	return []Case{
		one("should enforce ingress policy allowing any port traffic to a server on a specific protocol",
			pols(policy("allow-ingress-by-proto", a, ingress(inPorts(networkingv1.NetworkPolicyPort{Protocol: protoPtr(tcp)})))),
			probe(tcp, 80), probe(udp, 80, deny("", "x/a"))),
		one("should not mistakenly treat 'protocol: SCTP' as 'protocol: TCP', even if the plugin doesn't support SCTP",
			pols(policy("deny-ingress", all, ingress()),
				policy("allow-only-sctp-ingress-on-port-81", a, ingress(inPorts(port(81, sctp))))),
			probe(tcp, 81, deny("", "x"))),
		one("should properly isolate pods that are selected by a policy allowing SCTP, even if the plugin doesn't support SCTP",
			pols(policy("allow-only-sctp-ingress-on-port-80", a, ingress(inPorts(port(80, sctp))))),
			probe(tcp, 81, deny("", "x/a"))),
		one("should not allow access by TCP when a policy specifies only UDP",
			pols(policy("allow-only-udp-ingress-on-port-81", a, ingress(inPorts(port(81, udp))))),
			probe(tcp, 81, deny("", "x/a"))),
	}
}

// udpCases is the "Netpol [LinuxOnly]" context: three cases over UDP.
func udpCases() []Case {
	cs := []Case{
		one("should support a 'default-deny-ingress' policy",
			pols(policy("deny-all", all, ingress())),
			probe(udp, 80, deny("", "x"))),
		one("should enforce policy based on Ports",
			pols(policy("allow-ingress-on-port-81-ns-x", labels("pod", "a"), ingress(networkingv1.NetworkPolicyIngressRule{
				From: []networkingv1.NetworkPolicyPeer{nsPeer(nsNamed("y"))}, Ports: []networkingv1.NetworkPolicyPort{port(81, udp)},
			}))),
			probe(udp, 81, deny("x", "x/a"), deny("z", "x/a"))),
		one("should enforce policy to allow traffic only from a pod in a different namespace based on PodSelector and NamespaceSelector",
			pols(policy("allow-ns-y-pod-a-via-namespace-pod-selector", labels("pod", "a"),
				ingress(from(bothPeer(nsNamed("y"), labels("pod", "a")))))),
			probe(udp, 80, deny("", "x/a"), allow("y/a", "x/a"))),
	}
	for i := range cs {
		cs[i].Context = ContextUDP
	}
	return cs
}
