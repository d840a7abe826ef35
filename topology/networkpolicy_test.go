package topology

import (
	"slices"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
)

// A NetworkPolicy is kept as the API server stores it: defaulted, in its
// namespace; Namespaces keep their labels for namespaceSelectors.
func TestNetworkPolicyDefaulted(t *testing.T) {
	doc := `apiVersion: v1
kind: Namespace
metadata: {name: x, labels: {team: blue}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow, namespace: x}
spec:
  podSelector: {}
  egress: [{ports: [{port: 53}]}]
`
	lab, warns, err := Parse("np.yaml", []byte(doc))
	if err != nil || len(warns) > 0 {
		t.Fatalf("Parse: %v %v", err, warns)
	}
	if len(lab.NetworkPolicies) != 1 {
		t.Fatalf("NetworkPolicies = %v, want one", lab.NetworkPolicies)
	}
	np := lab.NetworkPolicies[0]
	want := []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}
	if np.Namespace != "x" || !slices.Equal(np.Spec.PolicyTypes, want) || *np.Spec.Egress[0].Ports[0].Protocol != "TCP" {
		t.Errorf("policy = %s/%s types %v, want x/allow, %v and TCP defaulted", np.Namespace, np.Name, np.Spec.PolicyTypes, want)
	}
	if got := lab.NamespaceLabels["x"]["team"]; got != "blue" {
		t.Errorf("namespace x label team = %q, want blue", got)
	}
}
