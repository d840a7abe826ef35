package netpol

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestPorts(t *testing.T) {
	t.Parallel()
	toDB := func(ports string) string {
		return `{metadata: {name: p}, spec: {podSelector: {matchLabels: {app: db}}, ingress: [{ports: [` + ports + `]}]}}`
	}
	egressTo := func(ports string) string {
		return `{metadata: {name: e}, spec: {podSelector: {matchLabels: {app: frontend}}, policyTypes: [Egress], egress: [{ports: [` + ports + `]}]}}`
	}
	runFlows(t, []flowCase{
		{name: "named port resolves on the selected pod (5432 on db)",
			policies: []string{toDB(`{port: db}`)}, src: "default/frontend", dst: "default/db", port: 5432, allowed: true,
			explain: "allowed by default/p ingress rule 0 (from anywhere, port db/TCP)"},
		{name: "named port resolves per pod (5433 on db2)",
			policies: []string{toDB(`{port: db}`)}, src: "default/frontend", dst: "default/db2", port: 5433, allowed: true},
		{name: "named port is not another pod's number",
			policies: []string{toDB(`{port: db}`)}, src: "default/frontend", dst: "default/db2", port: 5432, allowed: false},
		{name: "named port needs the protocol of the container port",
			policies: []string{toDB(`{port: dns}`)}, src: "default/frontend", dst: "default/db", port: 53, allowed: false},
		{name: "named port with the container port's protocol",
			policies: []string{toDB(`{port: dns, protocol: UDP}`)}, src: "default/frontend", dst: "default/db", proto: corev1.ProtocolUDP, port: 53, allowed: true},
		{name: "egress named port resolves on the destination pod",
			policies: []string{egressTo(`{port: db}`)}, src: "default/frontend", dst: "default/db2", port: 5433, allowed: true},
		{name: "egress named port never matches a non-pod",
			policies: []string{egressTo(`{port: db}`)}, src: "default/frontend", dst: "192.0.2.10", port: 5432, allowed: false},
		{name: "named port the source has is not looked up on the source",
			policies: []string{egressTo(`{port: http}`)}, src: "default/frontend", dst: "default/db", port: 8080, allowed: false},
		{name: "endPort range includes its start",
			policies: []string{toDB(`{port: 5000, endPort: 5432}`)}, src: "default/frontend", dst: "default/db", port: 5000, allowed: true},
		{name: "endPort range includes its end",
			policies: []string{toDB(`{port: 5000, endPort: 5432}`)}, src: "default/frontend", dst: "default/db", port: 5432, allowed: true,
			explain: "ports 5000-5432/TCP"},
		{name: "endPort range excludes past its end",
			policies: []string{toDB(`{port: 5000, endPort: 5432}`)}, src: "default/frontend", dst: "default/db", port: 5433, allowed: false},
		{name: "protocol without port allows all its ports",
			policies: []string{toDB(`{protocol: UDP}`)}, src: "default/frontend", dst: "default/db", proto: corev1.ProtocolUDP, port: 9999, allowed: true,
			explain: "any UDP port"},
		{name: "ports absent allow every protocol, ICMP too",
			policies: []string{`{metadata: {name: p}, spec: {podSelector: {}, ingress: [{from: [{podSelector: {}}]}]}}`},
			src:      "default/frontend", dst: "default/db", proto: "ICMP", allowed: true},
		{name: "ports present never match ICMP",
			policies: []string{toDB(`{protocol: TCP}`)}, src: "default/frontend", dst: "default/db", proto: "ICMP", allowed: false},
		{name: "SCTP-only rule still isolates TCP",
			policies: []string{toDB(`{port: 5432, protocol: SCTP}`)}, src: "default/frontend", dst: "default/db", port: 5432, allowed: false,
			explain: "isolated for ingress by default/p"},
		{name: "SCTP rule matches SCTP",
			policies: []string{toDB(`{port: 5432, protocol: SCTP}`)}, src: "default/frontend", dst: "default/db", proto: corev1.ProtocolSCTP, port: 5432, allowed: true},
	})
}

func TestIPBlock(t *testing.T) {
	t.Parallel()
	fromBlock := func(peers string) string {
		return `{metadata: {name: p}, spec: {podSelector: {matchLabels: {app: db}}, ingress: [{from: [` + peers + `]}]}}`
	}
	runFlows(t, []flowCase{
		{name: "ipBlock matches a pod address",
			policies: []string{fromBlock(`{ipBlock: {cidr: 10.244.1.0/24}}`)}, src: "default/frontend", dst: "default/db", port: 5432, allowed: true,
			explain: "(from ipBlock 10.244.1.0/24, any port)"},
		{name: "except removes a pod address",
			policies: []string{fromBlock(`{ipBlock: {cidr: 10.244.0.0/16, except: [10.244.1.2/32]}}`)}, src: "default/frontend", dst: "default/db", port: 5432, allowed: false},
		{name: "except removes only from its own peer",
			policies: []string{fromBlock(`{ipBlock: {cidr: 10.244.0.0/16, except: [10.244.1.2/32]}}, {podSelector: {matchLabels: {app: frontend}}}`)},
			src:      "default/frontend", dst: "default/db", port: 5432, allowed: true},
		{name: "except keeps the rest of the block",
			policies: []string{fromBlock(`{ipBlock: {cidr: 10.244.0.0/16, except: [10.244.1.2/32]}}`)}, src: "default/db2", dst: "default/db", port: 5432, allowed: true},
		{name: "ipBlock matches an external address",
			policies: []string{fromBlock(`{ipBlock: {cidr: 192.0.2.0/24}}`)}, src: "192.0.2.10", dst: "default/db", port: 5432, allowed: true},
		{name: "host bits in cidr are masked as the API server stores them",
			policies: []string{fromBlock(`{ipBlock: {cidr: 192.0.2.77/24}}`)}, src: "192.0.2.10", dst: "default/db", port: 5432, allowed: true},
		{name: "another node is an address for ipBlock",
			policies: []string{fromBlock(`{ipBlock: {cidr: 172.18.0.2/32}}`)}, src: "node/n1@172.18.0.2", dst: "default/db", port: 5432, allowed: true},
		{name: "another node outside every block is denied",
			policies: []string{denyIngress}, src: "node/n1@172.18.0.2", dst: "default/db", port: 5432, allowed: false},
	})
}

func TestExempt(t *testing.T) {
	t.Parallel()
	runFlows(t, []flowCase{
		{name: "the pod's own node is always allowed",
			policies: []string{denyIngress}, src: "node/n2@172.18.0.3", dst: "default/db", port: 5432, allowed: true,
			explain: "allowed: traffic from the pod's own node n2 is always allowed"},
		{name: "a pod to its own address is always allowed",
			policies: []string{denyIngress, denyEgress}, src: "default/db", dst: "default/db", port: 5432, allowed: true,
			explain: "never leaves it"},
		{name: "a pod to its own node is subject to egress",
			policies: []string{denyEgress}, src: "default/db", dst: "node/n2@172.18.0.3", port: 10250, allowed: false,
			explain: "isolated for egress by default/deny-out"},
		{name: "no policy means allowed",
			src: "default/frontend", dst: "default/db", port: 5432, allowed: true,
			explain: "allowed: no policy isolates default/frontend for egress or default/db for ingress"},
	})
}

// TestFirstRule: policies are a union; the reported rule is the first in the
// kernel's order (policies by namespace/name, rules by index), and every
// isolating policy is named.
func TestFirstRule(t *testing.T) {
	t.Parallel()
	c := testCluster(t,
		`{metadata: {name: zz}, spec: {podSelector: {}, ingress: [{}]}}`,
		`{metadata: {name: aa}, spec: {podSelector: {}, ingress: [{ports: [{port: 1}]}, {from: [{podSelector: {}}]}, {}]}}`,
		`{metadata: {name: mm}, spec: {podSelector: {}, policyTypes: [Egress]}}`,
	)
	f := Flow{Src: c.endpoint(t, "default/db2"), Dst: c.endpoint(t, "default/db"), Protocol: corev1.ProtocolTCP, Port: 5432}
	v := c.Evaluate(f)
	if !v.Ingress.Allowed || v.Ingress.By == nil || v.Ingress.By.String() != "default/aa ingress rule 1" {
		t.Fatalf("ingress = %+v, want allowed by default/aa ingress rule 1", v.Ingress)
	}
	var names []string
	for _, p := range v.Ingress.Isolating {
		names = append(names, p.Key())
	}
	if got := len(names); got != 2 || names[0] != "default/aa" || names[1] != "default/zz" {
		t.Errorf("isolating = %v, want [default/aa default/zz]", names)
	}
	if v.Allowed || v.Explain() != "denied: pod default/db2 is isolated for egress by default/mm and no rule allows 10.244.2.2:5432/TCP" {
		t.Errorf("explain = %q", v.Explain())
	}
}
