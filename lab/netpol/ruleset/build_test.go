package ruleset

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/yaml"

	"kinn.dev/kinn/lab/netpol"
	"kinn.dev/kinn/lab/proxy"
)

// testCluster is lab/netpol's evaluator cluster: default/frontend (n1),
// default/db (n2, named port db=5432), default/db2 (n1, db=5433),
// prod/api (n2), namespace prod labelled env=prod.
func testCluster(t *testing.T, policies ...string) *netpol.Cluster {
	t.Helper()
	port := func(name string, n int32, proto corev1.Protocol) corev1.ContainerPort {
		return corev1.ContainerPort{Name: name, ContainerPort: n, Protocol: proto}
	}
	pods := []*netpol.Pod{
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
	var compiled []*netpol.Policy
	for _, src := range policies {
		var np networkingv1.NetworkPolicy
		if err := yaml.UnmarshalStrict([]byte(src), &np); err != nil {
			t.Fatalf("policy yaml: %v", err)
		}
		if np.Namespace == "" {
			np.Namespace = "default"
		}
		p, err := netpol.Compile(&np)
		if err != nil {
			t.Fatalf("compile %s: %v", np.Name, err)
		}
		compiled = append(compiled, p)
	}
	return netpol.NewCluster([]netpol.Namespace{{Name: "prod", Labels: map[string]string{"env": "prod"}}}, pods, compiled)
}

// Structural tests of Build on lab/netpol's evaluator cluster: which pods are
// isolated, what their chains say, which elements each group has. The
// kernel's answer to the same tables is lab/cli's e2e.

func chainText(t *testing.T, rs *proxy.Ruleset, name string) []string {
	t.Helper()
	c := rs.Chain(name)
	if c == nil {
		t.Fatalf("no chain %s in:\n%s", name, rs)
	}
	var out []string
	for _, r := range c.Rules {
		out = append(out, r.String())
	}
	return out
}

func elemText(rs *proxy.Ruleset, name string) []string {
	m := rs.Map(name)
	var out []string
	for _, e := range m.Elems {
		s := e.Key.String(m.Key)
		if m.Key == proxy.KeyAddrVerdict {
			s += " : " + e.Verdict.String()
		}
		out = append(out, s)
	}
	return out
}

func TestBuildDefaultDenyIngressIsolatesAndDrops(t *testing.T) {
	c := testCluster(t, `{metadata: {name: deny}, spec: {podSelector: {}, ingress: []}}`)
	rs := Build(Node{Name: "n2"}, c)
	if got, want := elemText(rs, MapIngressPods), []string{"10.244.2.2 : goto pod-in-default/db"}; !slices.Equal(got, want) {
		t.Errorf("in-pods = %q, want %q (prod/api is in another namespace)", got, want)
	}
	if got := elemText(rs, MapEgressPods); len(got) != 0 {
		t.Errorf("eg-pods = %q, want none: the policy has no Egress type", got)
	}
	want := []string{"jump pol-in-default/deny", `log prefix "np D I default/db by default/deny" group 100 drop`}
	if got := chainText(t, rs, "pod-in-default/db"); !slices.Equal(got, want) {
		t.Errorf("pod chain = %q, want %q", got, want)
	}
	if got := chainText(t, rs, "pol-in-default/deny"); len(got) != 0 {
		t.Errorf("deny-all policy chain = %q, want no rule", got)
	}
	if rs.Chain(ChainIngress).Hook.Priority <= rs.Chain(ChainEgress).Hook.Priority {
		t.Error("ingress must be hooked after egress")
	}
	// n1's pods are not judged by n2's table.
	if got := elemText(Build(Node{Name: "n1"}, c), MapIngressPods); len(got) != 2 {
		t.Errorf("n1 in-pods = %q, want frontend and db2", got)
	}
}

func TestBuildAllowRuleHasItsElements(t *testing.T) {
	c := testCluster(t, `
metadata: {name: allow-frontend}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: frontend}}}, {ipBlock: {cidr: 192.168.0.0/24, except: [192.168.0.128/25, 192.168.0.1/32]}}]
    ports: [{port: db}, {port: 9000, endPort: 9010, protocol: UDP}]`)
	rs := Build(Node{Name: "n2"}, c)
	want := []string{
		`ip saddr . 0x00000001 @peer-pods meta l4proto tcp ip daddr . meta l4proto . th dport . 0x00000001 @named-ports log prefix "np A I default/allow-frontend#0" group 100 accept`,
		`ip saddr . 0x00000001 @peer-pods meta l4proto udp th dport 9000-9010 log prefix "np A I default/allow-frontend#0" group 100 accept`,
		`ip saddr . 0x00000002 @peer-cidrs meta l4proto tcp ip daddr . meta l4proto . th dport . 0x00000001 @named-ports log prefix "np A I default/allow-frontend#0" group 100 accept`,
		`ip saddr . 0x00000002 @peer-cidrs meta l4proto udp th dport 9000-9010 log prefix "np A I default/allow-frontend#0" group 100 accept`,
	}
	if got := chainText(t, rs, "pol-in-default/allow-frontend"); !slices.Equal(got, want) {
		t.Errorf("policy chain =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	checks := map[string][]string{
		SetPeerPods: {"10.244.1.2 . 0x00000001"},
		// The named port as each destination pod defines it: 5432 on db,
		// 5433 on db2 (on another node, but a destination all the same).
		SetNamedPorts: {"10.244.1.3 . tcp . 5433 . 0x00000001", "10.244.2.2 . tcp . 5432 . 0x00000001"},
		SetPeerCIDRs:  {"192.168.0.0 . 0x00000002", "192.168.0.2-192.168.0.127 . 0x00000002"},
	}
	for set, want := range checks {
		if got := elemText(rs, set); !slices.Equal(got, want) {
			t.Errorf("%s = %q, want %q", set, got, want)
		}
	}
}

func TestBuildEgressIsolatesBySource(t *testing.T) {
	c := testCluster(t, `{metadata: {name: out, namespace: prod}, spec: {podSelector: {}, policyTypes: [Egress], egress: [{to: [{namespaceSelector: {}}]}]}}`)
	rs := Build(Node{Name: "n2"}, c)
	if got, want := elemText(rs, MapEgressPods), []string{"10.244.2.3 : goto pod-eg-prod/api"}; !slices.Equal(got, want) {
		t.Errorf("eg-pods = %q, want %q", got, want)
	}
	if got := elemText(rs, MapIngressPods); len(got) != 0 {
		t.Errorf("in-pods = %q: egress-only policy isolates no ingress", got)
	}
	if got := elemText(rs, SetPeerPods); len(got) != 4 {
		t.Errorf("peer-pods = %q, want every pod of every namespace", got)
	}
	if got := chainText(t, rs, "pol-eg-prod/out")[0]; !strings.HasPrefix(got, "ip daddr . 0x00000001 @peer-pods log") {
		t.Errorf("egress rule = %q, want a destination match", got)
	}
}

func TestDropPrefixFitsTheKernel(t *testing.T) {
	long := strings.Repeat("p", 60)
	by := []string{"x/" + long, "x/" + long + "2", "x/" + long + "3"}
	got := DropPrefix(netpol.Ingress, "x/a", by)
	if len(got) > proxy.MaxLogPrefix || !strings.HasPrefix(got, "np D I x/a by x/"+long) || !strings.HasSuffix(got, " +2") {
		t.Errorf("DropPrefix = %q (%d bytes), want the first policy then +2, within %d", got, len(got), proxy.MaxLogPrefix)
	}
	if got := DropPrefix(netpol.Egress, "x/a", []string{"x/p", "x/q"}); got != "np D E x/a by x/p,x/q" {
		t.Errorf("DropPrefix = %q", got)
	}
}

// Every log prefix Build writes reads back as the policy and rule it
// stands for.
func TestMeaningOfBuiltPrefixes(t *testing.T) {
	c := testCluster(t, `{metadata: {name: deny}, spec: {podSelector: {}, ingress: []}}`,
		`{metadata: {name: allow-frontend}, spec: {podSelector: {matchLabels: {app: db}}, ingress: [{from: [{podSelector: {matchLabels: {app: frontend}}}]}]}}`)
	rs := Build(Node{Name: "n2"}, c)
	var got []string
	for _, ch := range rs.Chains {
		for _, r := range ch.Rules {
			for _, e := range r.Exprs {
				if l, ok := e.(proxy.Log); ok {
					m, ok := Meaning(l.Prefix, c)
					if !ok {
						t.Errorf("prefix %q has no meaning", l.Prefix)
					}
					got = append(got, m)
				}
			}
		}
	}
	want := []string{
		"default/db ingress denied: isolated by default/allow-frontend, default/deny; no rule allows",
		"allowed by default/allow-frontend ingress rule 0 (from podSelector app=frontend, any port)",
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("meanings %q lack %q", got, w)
		}
	}
}
