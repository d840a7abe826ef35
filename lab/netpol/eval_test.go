package netpol

import (
	"net/netip"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/yaml"
)

// A small cluster for the semantics table: two namespaces (prod labelled,
// default not listed at all, so only its implicit name label exists), pods
// on two nodes, and a named port "db" that means a different number on
// each db pod.
func testCluster(t *testing.T, policies ...string) *Cluster {
	t.Helper()
	port := func(name string, n int32, proto corev1.Protocol) corev1.ContainerPort {
		return corev1.ContainerPort{Name: name, ContainerPort: n, Protocol: proto}
	}
	pods := []*Pod{
		{Namespace: "default", Name: "frontend", Labels: map[string]string{"app": "frontend"},
			IP: netip.MustParseAddr("10.244.1.2"), Node: "n1", Ports: []corev1.ContainerPort{port("http", 8080, "")}},
		{Namespace: "default", Name: "db", Labels: map[string]string{"app": "db", "tier": "data"},
			IP: netip.MustParseAddr("10.244.2.2"), Node: "n2",
			Ports: []corev1.ContainerPort{port("db", 5432, corev1.ProtocolTCP), port("dns", 53, corev1.ProtocolUDP)}},
		{Namespace: "default", Name: "db2", Labels: map[string]string{"app": "db"},
			IP: netip.MustParseAddr("10.244.1.3"), Node: "n1", Ports: []corev1.ContainerPort{port("db", 5433, corev1.ProtocolTCP)}},
		{Namespace: "prod", Name: "api", Labels: map[string]string{"app": "api"},
			IP: netip.MustParseAddr("10.244.2.3"), Node: "n2"},
	}
	var compiled []*Policy
	for _, src := range policies {
		var np networkingv1.NetworkPolicy
		if err := yaml.UnmarshalStrict([]byte(src), &np); err != nil {
			t.Fatalf("policy yaml: %v", err)
		}
		if np.Namespace == "" {
			np.Namespace = "default"
		}
		p, err := Compile(&np)
		if err != nil {
			t.Fatalf("compile %s: %v", np.Name, err)
		}
		compiled = append(compiled, p)
	}
	nss := []Namespace{{Name: "prod", Labels: map[string]string{"env": "prod"}}}
	return NewCluster(nss, pods, compiled)
}

// endpoint reads "default/db", "node/n1@172.18.0.2" or an address.
func (c *Cluster) endpoint(t *testing.T, s string) Endpoint {
	t.Helper()
	if node, ok := strings.CutPrefix(s, "node/"); ok {
		name, addr, _ := strings.Cut(node, "@")
		return NodeEndpoint(name, netip.MustParseAddr(addr))
	}
	for _, p := range c.pods {
		if p.String() == s {
			return PodEndpoint(p)
		}
	}
	return AddrEndpoint(netip.MustParseAddr(s))
}

type flowCase struct {
	name     string
	policies []string
	src, dst string
	proto    corev1.Protocol
	port     int32
	allowed  bool
	explain  string // a substring of Explain, when the words matter
}

func runFlows(t *testing.T, cases []flowCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := testCluster(t, tc.policies...)
			proto := tc.proto
			if proto == "" {
				proto = corev1.ProtocolTCP
			}
			v := c.Evaluate(Flow{Src: c.endpoint(t, tc.src), Dst: c.endpoint(t, tc.dst), Protocol: proto, Port: tc.port})
			if v.Allowed != tc.allowed {
				t.Errorf("%s -> %s %d/%s: allowed = %v, want %v (%s)", tc.src, tc.dst, tc.port, proto, v.Allowed, tc.allowed, v.Explain())
			}
			if !strings.Contains(v.Explain(), tc.explain) {
				t.Errorf("explain = %q, want it to contain %q", v.Explain(), tc.explain)
			}
		})
	}
}

const (
	denyIngress = `{metadata: {name: deny-in}, spec: {podSelector: {}, policyTypes: [Ingress]}}`
	denyEgress  = `{metadata: {name: deny-out}, spec: {podSelector: {}, policyTypes: [Egress]}}`
)

func TestPolicyTypesDefaults(t *testing.T) {
	t.Parallel()
	runFlows(t, []flowCase{
		{name: "egress: [] without policyTypes isolates nothing",
			policies: []string{`{metadata: {name: p}, spec: {podSelector: {}, ingress: [{}], egress: []}}`},
			src:      "default/frontend", dst: "192.0.2.10", port: 443, allowed: true},
		{name: "egress rules without policyTypes isolate egress",
			policies: []string{`{metadata: {name: p}, spec: {podSelector: {}, egress: [{ports: [{port: 53, protocol: UDP}]}]}}`},
			src:      "default/frontend", dst: "192.0.2.10", port: 443, allowed: false,
			explain: "denied: pod default/frontend is isolated for egress by default/p and no rule allows 192.0.2.10:443/TCP"},
		{name: "policyTypes without Ingress ignores ingress rules",
			policies: []string{`{metadata: {name: p}, spec: {podSelector: {}, policyTypes: [Egress], egress: [{}], ingress: []}}`},
			src:      "prod/api", dst: "default/db", port: 5432, allowed: true},
		{name: "absent ingress with type Ingress denies all",
			policies: []string{denyIngress}, src: "prod/api", dst: "default/db", port: 5432, allowed: false,
			explain: "denied: pod default/db is isolated for ingress by default/deny-in and no rule allows 10.244.2.2:5432/TCP from 10.244.2.3"},
		{name: "ingress [{}] allows everything, external too",
			policies: []string{`{metadata: {name: p}, spec: {podSelector: {}, ingress: [{}]}}`},
			src:      "192.0.2.10", dst: "default/db", port: 1, allowed: true,
			explain: "allowed by default/p ingress rule 0 (from anywhere, any port)"},
		{name: "port protocol defaults to TCP",
			policies: []string{`{metadata: {name: p}, spec: {podSelector: {}, ingress: [{ports: [{port: 5432}]}]}}`},
			src:      "prod/api", dst: "default/db", proto: corev1.ProtocolUDP, port: 5432, allowed: false},
	})
}

func TestSelectors(t *testing.T) {
	t.Parallel()
	fromNS := func(sel string) string {
		return `{metadata: {name: p}, spec: {podSelector: {matchLabels: {app: db}}, ingress: [{from: [` + sel + `]}]}}`
	}
	runFlows(t, []flowCase{
		{name: "podSelector {} selects only the policy's namespace",
			policies: []string{`{metadata: {name: p, namespace: prod}, spec: {podSelector: {}}}`},
			src:      "default/frontend", dst: "default/db", port: 5432, allowed: true},
		{name: "lone podSelector peer means the policy's namespace",
			policies: []string{fromNS(`{podSelector: {matchLabels: {app: api}}}`)},
			src:      "prod/api", dst: "default/db", port: 5432, allowed: false},
		{name: "namespaceSelector {} means every namespace",
			policies: []string{fromNS(`{namespaceSelector: {}, podSelector: {matchLabels: {app: api}}}`)},
			src:      "prod/api", dst: "default/db", port: 5432, allowed: true,
			explain: "(from namespaceSelector {} and podSelector app=api, any port)"},
		{name: "both selectors in one peer are ANDed",
			policies: []string{fromNS(`{namespaceSelector: {matchLabels: {env: prod}}, podSelector: {matchLabels: {app: frontend}}}`)},
			src:      "default/frontend", dst: "default/db", port: 5432, allowed: false},
		{name: "two peers are ORed",
			policies: []string{fromNS(`{namespaceSelector: {matchLabels: {env: prod}}}, {podSelector: {matchLabels: {app: frontend}}}`)},
			src:      "default/frontend", dst: "default/db", port: 5432, allowed: true,
			explain: "(from namespaceSelector env=prod or podSelector app=frontend, any port)"},
		{name: "NotIn matches a namespace lacking the key",
			policies: []string{fromNS(`{namespaceSelector: {matchExpressions: [{key: env, operator: NotIn, values: [prod]}]}}`)},
			src:      "default/frontend", dst: "default/db", port: 5432, allowed: true},
		{name: "NotIn excludes the namespace having the value",
			policies: []string{fromNS(`{namespaceSelector: {matchExpressions: [{key: env, operator: NotIn, values: [prod]}]}}`)},
			src:      "prod/api", dst: "default/db", port: 5432, allowed: false},
		{name: "DoesNotExist matches a pod lacking the key",
			policies: []string{fromNS(`{podSelector: {matchExpressions: [{key: tier, operator: DoesNotExist}]}}`)},
			src:      "default/db2", dst: "default/db", port: 5432, allowed: true},
		{name: "namespace not listed still carries its name label",
			policies: []string{`{metadata: {name: p, namespace: prod}, spec: {podSelector: {}, ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: default}}}]}]}}`},
			src:      "default/frontend", dst: "prod/api", port: 80, allowed: true},
		{name: "selectors never match an external address",
			policies: []string{fromNS(`{namespaceSelector: {}}`)},
			src:      "192.0.2.10", dst: "default/db", port: 5432, allowed: false},
	})
}
