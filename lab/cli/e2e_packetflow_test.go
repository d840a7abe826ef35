package cli_test

// kube-proxy's own packet-flow cases, with real packets in a kinn lab.
//
// Upstream (kubernetes/kubernetes pkg/proxy/nftables/proxier_test.go)
// checks its nftables rules by tracing made-up packets through them
// (runPacketFlowTests). Each test here is one of its test functions, named
// TestPacketFlow<upstream name without Test>, each subtest one of its
// packetFlowTests under upstream's name, its fields as upstream wrote them:
// the source (a pod of 10.0.0.0/8, the test node 192.168.0.2, an outside
// client of 203.0.113.0/24), the destination, and the outcome (the
// endpoints that may answer, REJECT or DROP, and whether the endpoint sees
// a masqueraded source). The runner (e2e_packetflow_lab_test.go) maps
// upstream's addresses to the lab's and sends the packets.
//
// Left out: rows of SCTP (kinn's backends cannot serve it: Go's net package
// has no SCTP), of IPv6 (kinn's labs are IPv4), and of kube-proxy settings
// kinn has no equivalent of (masqueradeAll, no local-traffic detector).
// TestLoadBalancer and the LoadBalancer-IP rows of TestNoEndpointsReject
// use real LoadBalancers of kinn's controller, reached through the switch;
// elsewhere an external IP reached through the test node stands in for the
// LoadBalancer IP (pfLBStandIn).

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// Why kinn deliberately differs from kube-proxy (README, "Fidelity").
const (
	// kube-proxy's external chain short-circuits "pods" by `ip saddr
	// <cluster pod CIDR>`; kinn's by `iifname cni0`, pods on this node.
	differsPodShortCircuit = "a pod on another node reaching this node's NodePort with externalTrafficPolicy Local gets only this node's endpoints: " +
		"kinn does not masquerade pod-to-node traffic, so short-circuiting it unmasqueraded to an endpoint on the client's own node " +
		"would answer from the wrong address (real clusters' CNIs masquerade it, and kube-proxy sees a node there)"
)

// Upstream's endpoint conditions, as YAML flow maps.
const (
	condReady       = "{ready: true}"
	condReadyFull   = "{ready: true, serving: true, terminating: false}"
	condTermServing = "{ready: false, serving: true, terminating: true}"
	condTermGone    = "{ready: false, serving: false, terminating: true}"
)

func TestPacketFlowNoEndpointsReject(t *testing.T) {
	t.Parallel()
	runPacketFlowLab(t, pfLab{cases: []pfCase{{
		svcs: []pfSvc{{
			name: "ns1/svc1", clusterIP: "172.30.0.41", typ: corev1.ServiceTypeLoadBalancer, externalIP: "192.168.99.11",
			lbIP: "1.2.3.4", realLB: true,
			ports: []pfPort{{name: "p80", port: 80, nodePort: 3001}},
		}},
		flows: []pfFlow{
			{name: "pod to cluster IP with no endpoints", sourceIP: "10.0.0.2", destIP: "172.30.0.41", destPort: 80, output: "REJECT"},
			{name: "external to external IP with no endpoints", sourceIP: pfExternalClient, destIP: "192.168.99.11", destPort: 80, output: "REJECT"},
			{name: "pod to NodePort with no endpoints", sourceIP: "10.0.0.2", destIP: pfTestNodeIP, destPort: 3001, output: "REJECT"},
			{name: "external to NodePort with no endpoints", sourceIP: pfExternalClient, destIP: pfTestNodeIP, destPort: 3001, output: "REJECT"},
			{name: "pod to LoadBalancer IP with no endpoints", sourceIP: "10.0.0.2", destIP: "1.2.3.4", destPort: 80, output: "REJECT"},
			{name: "external to LoadBalancer IP with no endpoints", sourceIP: pfExternalClient, destIP: "1.2.3.4", destPort: 80, output: "REJECT"},
		},
	}}})
}

func TestPacketFlowClusterIPGeneral(t *testing.T) {
	t.Parallel()
	runPacketFlowLab(t, pfLab{cases: []pfCase{{
		svcs: []pfSvc{{
			name: "ns1/svc1", clusterIP: "172.30.0.41",
			ports: []pfPort{{name: "http", port: 80}},
			eps:   []pfEp{{ip: "10.180.0.1", node: pfTestNode}},
		}, {
			name: "ns2/svc2", clusterIP: "172.30.0.42",
			ports: []pfPort{
				{name: "http", port: 80},
				{name: "https", port: 443, target: 8443},
				{name: "dns-udp", port: 53, proto: corev1.ProtocolUDP},
				{name: "dns-tcp", port: 53, target: 5353},
				{name: "dns-sctp", port: 53, proto: corev1.ProtocolSCTP},
			},
			eps: []pfEp{{ip: "10.180.0.1", node: pfTestNode}, {ip: "10.180.2.1", node: "node2"}},
		}},
		flows: []pfFlow{
			{name: "simple clusterIP", sourceIP: "10.180.0.2", destIP: "172.30.0.41", destPort: 80, output: "10.180.0.1:80"},
			{name: "hairpin to cluster IP", sourceIP: "10.180.0.1", destIP: "172.30.0.41", destPort: 80, output: "10.180.0.1:80", masq: true},
			{name: "clusterIP with multiple endpoints", sourceIP: "10.180.0.2", destIP: "172.30.0.42", destPort: 80, output: "10.180.0.1:80, 10.180.2.1:80"},
			{name: "clusterIP with TargetPort", sourceIP: "10.180.0.2", destIP: "172.30.0.42", destPort: 443, output: "10.180.0.1:8443, 10.180.2.1:8443"},
			{name: "clusterIP with TCP, UDP, and SCTP on same port (TCP)", sourceIP: "10.180.0.2", protocol: corev1.ProtocolTCP, destIP: "172.30.0.42", destPort: 53, output: "10.180.0.1:5353, 10.180.2.1:5353"},
			// Upstream names the UDP row "(TCP)" too.
			{name: "clusterIP with TCP, UDP, and SCTP on same port (TCP)", sourceIP: "10.180.0.2", protocol: corev1.ProtocolUDP, destIP: "172.30.0.42", destPort: 53, output: "10.180.0.1:53, 10.180.2.1:53"},
			// "clusterIP with TCP, UDP, and SCTP on same port (SCTP)": kinn's backends cannot serve SCTP.
			{name: "TCP-only port does not match UDP traffic", sourceIP: "10.180.0.2", protocol: corev1.ProtocolUDP, destIP: "172.30.0.42", destPort: 80, output: "REJECT"},
			{name: "svc1 does not accept svc2's ports", sourceIP: "10.180.0.2", destIP: "172.30.0.41", destPort: 443, output: "REJECT"},
			{name: "packet to unallocated cluster ip", sourceIP: "10.180.0.2", destIP: "172.30.0.50", destPort: 80, output: "DROP"},
		},
	}}})
}

// TestPacketFlowLoadBalancer: upstream's source ranges are its node network
// (192.168.0.0/24, the lab's nodeSubnet here) and 203.0.113.0/25; its two
// LoadBalancer IPs are one lab address (kinn's controller gives one).
func TestPacketFlowLoadBalancer(t *testing.T) {
	t.Parallel()
	const ep, lb1, lb2 = "10.180.0.1:80", "1.2.3.4", "5.6.7.8"
	const blocked = pfExternalBlocked
	runPacketFlowLab(t, pfLab{cases: []pfCase{{
		svcs: []pfSvc{{
			name: "ns1/svc1", clusterIP: "172.30.0.41", typ: corev1.ServiceTypeLoadBalancer,
			lbIP: lb1, realLB: true, sourceRanges: []string{"172.18.0.0/16", " 203.0.113.0/25"},
			ports: []pfPort{{name: "p80", port: 80, nodePort: 3001}},
			eps:   []pfEp{{ip: "10.180.0.1"}},
		}},
		flows: []pfFlow{
			{name: "pod to cluster IP", sourceIP: "10.0.0.2", destIP: "172.30.0.41", destPort: 80, output: ep},
			{name: "external to nodePort", sourceIP: pfExternalClient, destIP: pfTestNodeIP, destPort: 3001, output: ep, masq: true},
			{name: "nodePort bypasses LoadBalancerSourceRanges", sourceIP: blocked, destIP: pfTestNodeIP, destPort: 3001, output: ep, masq: true},
			{name: "accepted external to LB1", sourceIP: pfExternalClient, destIP: lb1, destPort: 80, output: ep, masq: true},
			{name: "accepted external to LB2", sourceIP: pfExternalClient, destIP: lb2, destPort: 80, output: ep, masq: true},
			{name: "blocked external to LB1", sourceIP: blocked, destIP: lb1, destPort: 80, output: "DROP"},
			{name: "blocked external to LB2", sourceIP: blocked, destIP: lb2, destPort: 80, output: "DROP"},
			{name: "pod to LB1 (blocked by LoadBalancerSourceRanges)", sourceIP: "10.0.0.2", destIP: lb1, destPort: 80, output: "DROP"},
			{name: "pod to LB2 (blocked by LoadBalancerSourceRanges)", sourceIP: "10.0.0.2", destIP: lb2, destPort: 80, output: "DROP"},
			{name: "node to LB1 (allowed by LoadBalancerSourceRanges)", sourceIP: pfTestNodeIP, destIP: lb1, destPort: 80, output: ep, masq: true},
			{name: "node to LB2 (allowed by LoadBalancerSourceRanges)", sourceIP: pfTestNodeIP, destIP: lb2, destPort: 80, output: ep, masq: true},
			{name: "same node to LB1, SNATted to LB1 (implicitly allowed)", sourceIP: lb1, destIP: lb1, destPort: 80, output: ep, masq: true},
			{name: "same node to LB2, SNATted to LB2 (implicitly allowed)", sourceIP: lb2, destIP: lb2, destPort: 80, output: ep, masq: true},
		},
	}}})
}

// TestPacketFlowNodePorts: upstream's "ipv4" and "ipv4, multiple
// nodeport-addresses" settings; its secondary node IP (192.168.1.2) is the
// test node's second address here, the gateway of its pod network, and
// nodePortAddresses lists the node network and the pod network where
// upstream lists 192.168.0.0/24 and 192.168.1.0/24. Its "ipv6" settings:
// kinn's labs are IPv4.
func TestPacketFlowNodePorts(t *testing.T) {
	t.Parallel()
	svc := pfSvc{
		name: "ns1/svc1", clusterIP: "172.30.0.41", typ: corev1.ServiceTypeNodePort,
		ports: []pfPort{{name: "p80", port: 80, nodePort: 3001}},
		eps:   []pfEp{{ip: "10.180.0.1"}, {ip: "10.180.2.1", node: pfTestNode}},
	}
	const output = "10.180.0.1:80, 10.180.2.1:80"
	basic := []pfFlow{
		{name: "pod to cluster IP", sourceIP: "10.0.0.2", destIP: "172.30.0.41", destPort: 80, output: output},
		{name: "external to nodePort", sourceIP: pfExternalClient, destIP: pfTestNodeIP, destPort: 3001, output: output, masq: true},
		{name: "node to nodePort", sourceIP: pfTestNodeIP, destIP: pfTestNodeIP, destPort: 3001, output: output, masq: true},
	}
	for _, tc := range []struct {
		name              string
		nodePortAddresses []string
		alt               pfFlow
	}{
		{"ipv4", nil,
			pfFlow{name: "secondary nodeIP ignores NodePorts", sourceIP: pfExternalClient, destIP: pfTestNodeIPAlt, destPort: 3001, output: ""}},
		{"ipv4, multiple nodeport-addresses", []string{"172.18.0.0/16", "10.244.0.0/16"},
			pfFlow{name: "external to nodePort on secondary IP", sourceIP: pfExternalClient, destIP: pfTestNodeIPAlt, destPort: 3001, output: output, masq: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runPacketFlowLab(t, pfLab{nodePortAddresses: tc.nodePortAddresses, cases: []pfCase{{
				svcs: []pfSvc{svc}, flows: append(append([]pfFlow{}, basic...), tc.alt),
			}}})
		})
	}
}

// etpService is upstream's LoadBalancer Service of the two
// externalTrafficPolicy tests: one endpoint on the test node, one with no
// NodeName.
func etpService(local bool) pfSvc {
	return pfSvc{
		name: "ns1/svc1", clusterIP: "172.30.0.41", typ: corev1.ServiceTypeLoadBalancer, etpLocal: local,
		externalIP: "192.168.99.11", lbIP: "1.2.3.4",
		ports: []pfPort{{name: "p80", port: 80, target: 80, nodePort: 3001}},
		eps:   []pfEp{{ip: "10.180.0.1"}, {ip: "10.180.2.1", node: pfTestNode}},
	}
}

func TestPacketFlowExternalTrafficPolicyLocal(t *testing.T) {
	t.Parallel()
	const both, local = "10.180.0.1:80, 10.180.2.1:80", "10.180.2.1:80"
	runPacketFlowLab(t, pfLab{cases: []pfCase{{
		svcs: []pfSvc{etpService(true)},
		flows: []pfFlow{
			{name: "pod to cluster IP hits both endpoints, unmasqueraded", sourceIP: "10.0.0.2", destIP: "172.30.0.41", destPort: 80, output: both},
			{name: "pod to external IP hits both endpoints, unmasqueraded", sourceIP: "10.0.0.2", destIP: "192.168.99.11", destPort: 80, output: both},
			{name: "external to external IP hits only local endpoint, unmasqueraded", sourceIP: pfExternalClient, destIP: "192.168.99.11", destPort: 80, output: local},
			{name: "pod to LB IP hits only both endpoints, unmasqueraded", sourceIP: "10.0.0.2", destIP: "1.2.3.4", destPort: 80, output: both},
			{name: "external to LB IP hits only local endpoint, unmasqueraded", sourceIP: pfExternalClient, destIP: "1.2.3.4", destPort: 80, output: local},
			{name: "pod to NodePort hits both endpoints, unmasqueraded", sourceIP: "10.0.0.2", destIP: pfTestNodeIP, destPort: 3001, output: both,
				differs: differsPodShortCircuit, remotePod: &pfOutcome{output: local}},
			{name: "external to NodePort hits only local endpoint, unmasqueraded", sourceIP: pfExternalClient, destIP: pfTestNodeIP, destPort: 3001, output: local},
		},
	}}})
}

func TestPacketFlowExternalTrafficPolicyCluster(t *testing.T) {
	t.Parallel()
	const both = "10.180.0.1:80, 10.180.2.1:80"
	runPacketFlowLab(t, pfLab{cases: []pfCase{{
		svcs: []pfSvc{etpService(false)},
		flows: []pfFlow{
			{name: "pod to cluster IP hits both endpoints, unmasqueraded", sourceIP: "10.0.0.2", destIP: "172.30.0.41", destPort: 80, output: both},
			{name: "pod to external IP hits both endpoints, masqueraded", sourceIP: "10.0.0.2", destIP: "192.168.99.11", destPort: 80, output: both, masq: true},
			{name: "external to external IP hits both endpoints, masqueraded", sourceIP: pfExternalClient, destIP: "192.168.99.11", destPort: 80, output: both, masq: true},
			{name: "pod to LB IP hits both endpoints, masqueraded", sourceIP: "10.0.0.2", destIP: "1.2.3.4", destPort: 80, output: both, masq: true},
			{name: "external to LB IP hits both endpoints, masqueraded", sourceIP: pfExternalClient, destIP: "1.2.3.4", destPort: 80, output: both, masq: true},
			{name: "pod to NodePort hits both endpoints, masqueraded", sourceIP: "10.0.0.2", destIP: pfTestNodeIP, destPort: 3001, output: both, masq: true},
			{name: "external to NodePort hits both endpoints, masqueraded", sourceIP: pfExternalClient, destIP: pfTestNodeIP, destPort: 3001, output: both, masq: true},
		},
	}}})
}

func TestPacketFlowInternalTrafficPolicy(t *testing.T) {
	t.Parallel()
	svc := func(local bool, nodes ...string) pfSvc {
		s := pfSvc{name: "ns1/svc1", clusterIP: "172.30.1.1", itpLocal: local, ports: []pfPort{{port: 80}}}
		for i, n := range nodes {
			s.eps = append(s.eps, pfEp{ip: []string{"10.0.1.1", "10.0.1.2", "10.0.1.3"}[i], node: n, cond: condReady})
		}
		return s
	}
	flow := func(name, output string) []pfFlow {
		return []pfFlow{{name: name, sourceIP: "10.0.0.2", destIP: "172.30.1.1", destPort: 80, output: output}}
	}
	deleted := []pfFlow{{name: "endpoints deleted", sourceIP: "10.0.0.2", destIP: "172.30.1.1", destPort: 80, output: "REJECT"}}
	runPacketFlowLab(t, pfLab{cases: []pfCase{
		{name: "internalTrafficPolicy is cluster", svcs: []pfSvc{svc(false, pfTestNode, "node1", "node2")},
			flows: flow("pod to ClusterIP hits all endpoints", "10.0.1.1:80, 10.0.1.2:80, 10.0.1.3:80"), deleted: deleted},
		{name: "internalTrafficPolicy is local and there is one local endpoint", svcs: []pfSvc{svc(true, pfTestNode, "node1", "node2")},
			flows: flow("pod to ClusterIP hits only local endpoint", "10.0.1.1:80"), deleted: deleted},
		{name: "internalTrafficPolicy is local and there are multiple local endpoints", svcs: []pfSvc{svc(true, pfTestNode, pfTestNode, "node2")},
			flows: flow("pod to ClusterIP hits all local endpoints", "10.0.1.1:80, 10.0.1.2:80"), deleted: deleted},
		{name: "internalTrafficPolicy is local and there are no local endpoints", svcs: []pfSvc{svc(true, "node0", "node1", "node2")},
			flows: flow("no endpoints", "DROP"), deleted: deleted},
	}})
}

// terminatingService is upstream's LoadBalancer Service of the two
// terminating-endpoints tests, with the case's endpoints.
func terminatingService(local bool, eps ...pfEp) []pfSvc {
	return []pfSvc{{
		name: "ns1/svc1", clusterIP: "172.30.1.1", typ: corev1.ServiceTypeLoadBalancer, etpLocal: local, lbIP: "1.2.3.4",
		ports: []pfPort{{port: 80, target: 80}},
		eps:   eps,
	}}
}

// terminatingFlows are a terminating-endpoints case's two rows: from a pod
// to the ClusterIP and from outside to the LoadBalancer IP.
func terminatingFlows(podName, podOutput, extName, extOutput string, extMasq bool) []pfFlow {
	return []pfFlow{
		{name: podName, sourceIP: "10.0.0.2", destIP: "172.30.1.1", destPort: 80, output: podOutput},
		{name: extName, sourceIP: pfExternalClient, destIP: "1.2.3.4", destPort: 80, output: extOutput, masq: extMasq},
	}
}

var terminatingDeleted = terminatingFlows("pod to clusterIP after endpoints deleted", "REJECT", "external to LB after endpoints deleted", "REJECT", false)

func TestPacketFlowTerminatingEndpointsTrafficPolicyLocal(t *testing.T) {
	t.Parallel()
	runPacketFlowLab(t, pfLab{cases: []pfCase{
		{name: "ready endpoints exist",
			svcs: terminatingService(true,
				pfEp{"10.0.1.1", pfTestNode, condReadyFull}, pfEp{"10.0.1.2", pfTestNode, condReadyFull},
				pfEp{"10.0.1.3", pfTestNode, condTermServing}, pfEp{"10.0.1.4", pfTestNode, condTermGone},
				pfEp{"10.0.1.5", "node-1", condReadyFull}),
			flows:   terminatingFlows("pod to clusterIP", "10.0.1.1:80, 10.0.1.2:80, 10.0.1.5:80", "external to LB", "10.0.1.1:80, 10.0.1.2:80", false),
			deleted: terminatingDeleted},
		{name: "only terminating endpoints exist",
			svcs: terminatingService(true,
				pfEp{"10.0.1.2", pfTestNode, condTermServing}, pfEp{"10.0.1.3", pfTestNode, condTermServing},
				pfEp{"10.0.1.4", pfTestNode, condTermGone}, pfEp{"10.0.1.5", "node-1", condReadyFull}),
			flows:   terminatingFlows("pod to clusterIP", "10.0.1.5:80", "external to LB", "10.0.1.2:80, 10.0.1.3:80", false),
			deleted: terminatingDeleted},
		{name: "terminating endpoints on remote node",
			svcs:    terminatingService(true, pfEp{"10.0.1.5", "node-1", condTermServing}),
			flows:   terminatingFlows("pod to clusterIP", "10.0.1.5:80", "external to LB, no locally-usable endpoints", "DROP", false),
			deleted: terminatingDeleted},
		{name: "no usable endpoints on any node",
			svcs:    terminatingService(true, pfEp{"10.0.1.5", pfTestNode, condTermGone}, pfEp{"10.0.1.5", "node-1", condTermGone}),
			flows:   terminatingFlows("pod to clusterIP, no usable endpoints", "REJECT", "external to LB, no usable endpoints", "REJECT", false),
			deleted: terminatingDeleted},
	}})
}

func TestPacketFlowTerminatingEndpointsTrafficPolicyCluster(t *testing.T) {
	t.Parallel()
	runPacketFlowLab(t, pfLab{cases: []pfCase{
		{name: "ready endpoints exist",
			svcs: terminatingService(false,
				pfEp{"10.0.1.1", pfTestNode, condReadyFull}, pfEp{"10.0.1.2", pfTestNode, condReadyFull},
				pfEp{"10.0.1.3", "another-node", condTermServing}, pfEp{"10.0.1.4", "another-node", condTermGone},
				pfEp{"10.0.1.5", "another-node", condReadyFull}),
			flows:   terminatingFlows("pod to clusterIP", "10.0.1.1:80, 10.0.1.2:80, 10.0.1.5:80", "external to LB", "10.0.1.1:80, 10.0.1.2:80, 10.0.1.5:80", true),
			deleted: terminatingDeleted},
		{name: "only terminating endpoints exist",
			svcs: terminatingService(false,
				pfEp{"10.0.1.2", pfTestNode, condTermServing}, pfEp{"10.0.1.3", pfTestNode, condTermServing},
				pfEp{"10.0.1.4", "another-node", condTermGone}, pfEp{"10.0.1.5", "another-node", condTermServing}),
			flows:   terminatingFlows("pod to clusterIP", "10.0.1.2:80, 10.0.1.3:80, 10.0.1.5:80", "external to LB", "10.0.1.2:80, 10.0.1.3:80, 10.0.1.5:80", true),
			deleted: terminatingDeleted},
		{name: "terminating endpoints on remote node",
			svcs:    terminatingService(false, pfEp{"10.0.1.5", "node-1", condTermServing}),
			flows:   terminatingFlows("pod to clusterIP", "10.0.1.5:80", "external to LB", "10.0.1.5:80", true),
			deleted: terminatingDeleted},
		{name: "no usable endpoints on any node",
			svcs:    terminatingService(false, pfEp{"10.0.1.5", pfTestNode, condTermGone}, pfEp{"10.0.1.5", "node-1", condTermGone}),
			flows:   terminatingFlows("pod to clusterIP", "REJECT", "external to LB", "REJECT", false),
			deleted: terminatingDeleted},
	}})
}

// TestPacketFlowInternalExternalMasquerade: upstream's "base" setting;
// its "no LocalTrafficDetector", "masqueradeAll" and "masqueradeAll, no
// LocalTrafficDetector" are kube-proxy options kinn has no equivalent of.
func TestPacketFlowInternalExternalMasquerade(t *testing.T) {
	t.Parallel()
	lb := func(name, clusterIP, lbIP string, nodePort int, n int) pfSvc {
		return pfSvc{
			name: name, clusterIP: clusterIP, typ: corev1.ServiceTypeLoadBalancer, lbIP: lbIP,
			ports: []pfPort{{name: "p80", port: 80, nodePort: nodePort}},
			eps:   []pfEp{{ip: fmt.Sprintf("10.180.0.%d", n), node: pfTestNode}, {ip: fmt.Sprintf("10.180.1.%d", n), node: "remote"}},
		}
	}
	svc1, svc2, svc3 := lb("ns1/svc1", "172.30.0.41", "1.2.3.4", 3001, 1), lb("ns2/svc2", "172.30.0.42", "5.6.7.8", 3002, 2), lb("ns3/svc3", "172.30.0.43", "9.10.11.12", 3003, 3)
	svc2.etpLocal, svc3.itpLocal = true, true
	const all1, all2, all3 = "10.180.0.1:80, 10.180.1.1:80", "10.180.0.2:80, 10.180.1.2:80", "10.180.0.3:80, 10.180.1.3:80"
	pod, node, ext := "10.0.0.2", pfTestNodeIP, pfExternalClient
	runPacketFlowLab(t, pfLab{cases: []pfCase{{name: "base", svcs: []pfSvc{svc1, svc2, svc3}, flows: []pfFlow{
		{name: "pod to ClusterIP", sourceIP: pod, destIP: "172.30.0.41", destPort: 80, output: all1},
		{name: "pod to NodePort", sourceIP: pod, destIP: pfTestNodeIP, destPort: 3001, output: all1, masq: true},
		{name: "pod to LB", sourceIP: pod, destIP: "1.2.3.4", destPort: 80, output: all1, masq: true},
		{name: "node to ClusterIP", sourceIP: node, destIP: "172.30.0.41", destPort: 80, output: all1, masq: true},
		{name: "node to NodePort", sourceIP: node, destIP: pfTestNodeIP, destPort: 3001, output: all1, masq: true},
		{name: "node to LB", sourceIP: node, destIP: "1.2.3.4", destPort: 80, output: all1, masq: true},
		{name: "external to ClusterIP", sourceIP: ext, destIP: "172.30.0.41", destPort: 80, output: all1, masq: true},
		{name: "external to NodePort", sourceIP: ext, destIP: pfTestNodeIP, destPort: 3001, output: all1, masq: true},
		{name: "external to LB", sourceIP: ext, destIP: "1.2.3.4", destPort: 80, output: all1, masq: true},
		{name: "pod to ClusterIP with eTP:Local", sourceIP: pod, destIP: "172.30.0.42", destPort: 80, output: all2},
		{name: "pod to NodePort with eTP:Local", sourceIP: pod, destIP: pfTestNodeIP, destPort: 3002, output: all2,
			differs: differsPodShortCircuit, remotePod: &pfOutcome{output: "10.180.0.2:80"}},
		{name: "pod to LB with eTP:Local", sourceIP: pod, destIP: "5.6.7.8", destPort: 80, output: all2},
		{name: "node to ClusterIP with eTP:Local", sourceIP: node, destIP: "172.30.0.42", destPort: 80, output: all2, masq: true},
		// Upstream sends this row to svc1's NodePort (3001), as here.
		{name: "node to NodePort with eTP:Local", sourceIP: node, destIP: pfTestNodeIP, destPort: 3001, output: all1, masq: true},
		{name: "node to LB with eTP:Local", sourceIP: node, destIP: "5.6.7.8", destPort: 80, output: all2, masq: true},
		{name: "external to ClusterIP with eTP:Local", sourceIP: ext, destIP: "172.30.0.42", destPort: 80, output: all2, masq: true},
		{name: "external to NodePort with eTP:Local", sourceIP: ext, destIP: pfTestNodeIP, destPort: 3002, output: "10.180.0.2:80"},
		{name: "external to LB with eTP:Local", sourceIP: ext, destIP: "5.6.7.8", destPort: 80, output: "10.180.0.2:80"},
		{name: "pod to ClusterIP with iTP:Local", sourceIP: pod, destIP: "172.30.0.43", destPort: 80, output: "10.180.0.3:80"},
		{name: "pod to NodePort with iTP:Local", sourceIP: pod, destIP: pfTestNodeIP, destPort: 3003, output: all3, masq: true},
		{name: "pod to LB with iTP:Local", sourceIP: pod, destIP: "9.10.11.12", destPort: 80, output: all3, masq: true},
		{name: "node to ClusterIP with iTP:Local", sourceIP: node, destIP: "172.30.0.43", destPort: 80, output: "10.180.0.3:80", masq: true},
		{name: "node to NodePort with iTP:Local", sourceIP: node, destIP: pfTestNodeIP, destPort: 3003, output: all3, masq: true},
		{name: "node to LB with iTP:Local", sourceIP: node, destIP: "9.10.11.12", destPort: 80, output: all3, masq: true},
		{name: "external to ClusterIP with iTP:Local", sourceIP: ext, destIP: "172.30.0.43", destPort: 80, output: "10.180.0.3:80", masq: true},
		{name: "external to NodePort with iTP:Local", sourceIP: ext, destIP: pfTestNodeIP, destPort: 3003, output: all3, masq: true},
		{name: "external to LB with iTP:Local", sourceIP: ext, destIP: "9.10.11.12", destPort: 80, output: all3, masq: true},
	}}}})
}
