package cli_test

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"kinn.dev/kinn/lab/netpol/netpoltest"
)

// readmeCases are the README's NetworkPolicy walk, examples/netpol/*.yaml,
// with what the README says each shows: its claims are held to packets.
func readmeCases(t *testing.T, w *netpoltest.World) []netpoltest.Case {
	tcp := corev1.ProtocolTCP
	deny := func(from, to string) netpoltest.Expectation { return netpoltest.Expectation{From: from, To: to} }
	allow := func(from, to string) netpoltest.Expectation {
		return netpoltest.Expectation{From: from, To: to, Allowed: true}
	}
	walk := func(file string, probes ...netpoltest.Probe) netpoltest.Case {
		np := readPolicy(t, file, w)
		return netpoltest.Case{Context: "README", It: file, Steps: []netpoltest.Step{{
			Policies: []*networkingv1.NetworkPolicy{np}, Probes: probes,
		}}}
	}
	return []netpoltest.Case{
		walk("default-deny-ingress.yaml",
			netpoltest.Probe{Protocol: tcp, Port: 80, Expect: []netpoltest.Expectation{deny("", "x")}}),
		walk("allow-from-y.yaml",
			netpoltest.Probe{Protocol: tcp, Port: 81, Expect: []netpoltest.Expectation{deny("", "x/a"), allow("y", "x/a")}}),
		walk("allow-named-port.yaml",
			netpoltest.Probe{Protocol: tcp, Port: 80, Expect: []netpoltest.Expectation{deny("", "x")}},
			netpoltest.Probe{Protocol: tcp, Port: 81},
			netpoltest.Probe{Protocol: corev1.ProtocolUDP, Port: 81, Expect: []netpoltest.Expectation{deny("", "x")}}),
		walk("egress-with-dns.yaml",
			netpoltest.Probe{Protocol: tcp, Port: 80, Expect: []netpoltest.Expectation{deny("x/a", ""), allow("x/a", "y")}},
			netpoltest.Probe{Protocol: tcp, Port: 81, Expect: []netpoltest.Expectation{deny("x/a", "")}}),
		walk("ipblock-except.yaml",
			netpoltest.Probe{Protocol: tcp, Port: 80, Expect: []netpoltest.Expectation{deny("x/a", "y/b")}}),
	}
}

// readPolicy reads examples/netpol/FILE, with the README's address of y/b
// replaced by the lab's (they are the same on a fresh lab).
func readPolicy(t *testing.T, file string, w *netpoltest.World) *networkingv1.NetworkPolicy {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../../examples/netpol", file))
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.ReplaceAll(string(b), "10.244.1.4/32", w.IP("y/b").String()+"/32")
	var np networkingv1.NetworkPolicy
	if err := yaml.UnmarshalStrict([]byte(doc), &np); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return &np
}

// readmeDNS checks the egress-with-dns walk's claims: x/a resolves and
// reaches s-y-a.y by name, cannot reach s-z-a.z, and without the DNS rule
// resolves nothing.
func (l *npLab) readmeDNS() {
	l.t.Helper()
	np := readPolicy(l.t, "egress-with-dns.yaml", l.world)
	l.applyPolicies([]*networkingv1.NetworkPolicy{np})
	defer l.deletePolicies([]string{np.Namespace + "/" + np.Name})
	l.validate("egress-with-dns", netpoltest.Probe{Expect: []netpoltest.Expectation{{From: "x/a"}, {From: "x/a", To: "y", Allowed: true}}}.Expected(l.world.PodStrings()), corev1.ProtocolTCP, 80, viaService)
	if out, _, code := l.run("exec", "--name", l.name, "-n", "x", "a", "--", "curl", "-sS", "-m", "2", "s-y-a.y/hostname"); code != 0 || out != "a" {
		l.t.Errorf("x/a -> s-y-a.y by name: exit %d, %q", code, out)
	}
	if _, _, code := l.run("exec", "--name", l.name, "-n", "x", "a", "--", "curl", "-sS", "-m", "1", "s-z-a.z/hostname"); code == 0 {
		l.t.Errorf("x/a -> s-z-a.z answered under egress-y-and-dns")
	}
	np.Spec.Egress = np.Spec.Egress[:1] // the same policy, updated
	l.applyPolicies([]*networkingv1.NetworkPolicy{np})
	deadline := time.Now().Add(syncWait)
	for {
		_, _, code := l.run("exec", "--name", l.name, "-n", "x", "a", "--", "curl", "-sS", "-m", "1", "s-y-a.y/hostname")
		if code != 0 {
			return
		}
		if time.Now().After(deadline) {
			l.t.Errorf("x/a still resolves s-y-a.y once the DNS rule is gone")
			return
		}
	}
}

// namedPortOnDestination checks that a named port is looked up in the
// destination pod, not the source: upstream's model cannot tell, as every
// pod names 80 and 81 alike, so a pod z/d outside the model names 81
// serve-80-tcp. x/a, allowed egress only to serve-80-tcp, must reach z/d
// on 81 but not on 80, and the model's pods on 80 but not 81.
func (l *npLab) namedPortOnDestination() {
	l.t.Helper()
	l.applyDocs(`apiVersion: v1
kind: Pod
metadata: {name: d, namespace: z, labels: {pod: d}}
spec:
  nodeSelector: {netpol.kinn.dev/spread: "2"}
  containers:
  - name: c
    image: registry.k8s.io/e2e-test-images/agnhost:2.53
    args: [pause]
    ports:
    - {name: serve-80-tcp, containerPort: 81}
    - {name: web, containerPort: 80}
`)
	var d netip.Addr
	for _, p := range l.userPods() {
		if p.Namespace == "z" && p.Name == "d" {
			d, _ = netip.ParseAddr(p.Status.PodIP)
		}
	}
	if !d.IsValid() {
		l.t.Fatal("pod z/d has no address")
	}
	tcp := corev1.ProtocolTCP
	np := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "egress-serve-80-tcp", Namespace: "x"},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"pod": "a"}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
			Egress: []networkingv1.NetworkPolicyEgressRule{{
				Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: ptr(intstr.FromString("serve-80-tcp"))}},
			}},
		},
	}
	l.applyPolicies([]*networkingv1.NetworkPolicy{np})
	defer l.deletePolicies([]string{"x/" + np.Name})
	want := map[netip.AddrPort]bool{
		netip.AddrPortFrom(d, 81): true, netip.AddrPortFrom(d, 80): false,
		netip.AddrPortFrom(l.world.IP("y/a"), 80): true, netip.AddrPortFrom(l.world.IP("y/a"), 81): false,
	}
	deadline := time.Now().Add(syncWait)
	for {
		var wrong []string
		for addr, ok := range want {
			if connect(l.netns["x/a"], tcp, addr) != ok {
				wrong = append(wrong, fmt.Sprintf("x/a -> %s: want allowed=%v", addr, ok))
			}
		}
		if len(wrong) == 0 {
			return
		}
		if time.Now().After(deadline) {
			l.t.Errorf("named port serve-80-tcp not resolved on the destination: %v", wrong)
			return
		}
	}
}
