package netpol

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/yaml"
)

func parsePolicy(t *testing.T, src string) *networkingv1.NetworkPolicy {
	t.Helper()
	var np networkingv1.NetworkPolicy
	if err := yaml.UnmarshalStrict([]byte(src), &np); err != nil {
		t.Fatalf("policy yaml: %v", err)
	}
	return &np
}

// TestValidate: what the API server refuses, each error naming its field by
// a Path the topology loader can point at.
func TestValidate(t *testing.T) {
	t.Parallel()
	spec := func(s string) string { return `{metadata: {name: p, namespace: x}, spec: ` + s + `}` }
	cases := []struct {
		name, policy string
		path         Path
		msg          string
	}{
		{"empty peer", spec(`{podSelector: {}, ingress: [{from: [{podSelector: {}}, {}]}]}`),
			Path{"spec", "ingress", 0, "from", 1}, "spec.ingress[0].from[1]: must specify a peer"},
		{"ipBlock with a selector", spec(`{podSelector: {}, egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8}, namespaceSelector: {}}]}]}`),
			Path{"spec", "egress", 0, "to", 0}, "may not specify both ipBlock and another peer"},
		{"bad cidr", spec(`{podSelector: {}, ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/33}}]}]}`),
			Path{"spec", "ingress", 0, "from", 0, "ipBlock", "cidr"}, "must be a valid CIDR"},
		{"missing cidr", spec(`{podSelector: {}, ingress: [{from: [{ipBlock: {except: [10.0.0.0/8]}}]}]}`),
			Path{"spec", "ingress", 0, "from", 0, "ipBlock", "cidr"}, "cidr is required"},
		{"except outside cidr", spec(`{podSelector: {}, ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16, 192.168.0.0/16]}}]}]}`),
			Path{"spec", "ingress", 0, "from", 0, "ipBlock", "except", 1}, "must be a strict subset of `cidr`"},
		{"except equal to cidr", spec(`{podSelector: {}, ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.0.0.0/8]}}]}]}`),
			Path{"spec", "ingress", 0, "from", 0, "ipBlock", "except", 0}, "strict subset"},
		{"bad except", spec(`{podSelector: {}, ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8, except: [nope]}}]}]}`),
			Path{"spec", "ingress", 0, "from", 0, "ipBlock", "except", 0}, "must be a valid CIDR"},
		{"endPort with a named port", spec(`{podSelector: {}, ingress: [{ports: [{port: http, endPort: 90}]}]}`),
			Path{"spec", "ingress", 0, "ports", 0, "endPort"}, "may not be specified when `port` is non-numeric"},
		{"endPort without port", spec(`{podSelector: {}, ingress: [{ports: [{endPort: 90}]}]}`),
			Path{"spec", "ingress", 0, "ports", 0, "endPort"}, "may not be specified when `port` is not specified"},
		{"endPort below port", spec(`{podSelector: {}, egress: [{ports: [{port: 90, endPort: 80}]}]}`),
			Path{"spec", "egress", 0, "ports", 0, "endPort"}, "must be greater than or equal to `port`"},
		{"endPort out of range", spec(`{podSelector: {}, egress: [{ports: [{port: 90, endPort: 70000}]}]}`),
			Path{"spec", "egress", 0, "ports", 0, "endPort"}, "between 1 and 65535"},
		{"port zero", spec(`{podSelector: {}, ingress: [{ports: [{port: 0}]}]}`),
			Path{"spec", "ingress", 0, "ports", 0, "port"}, "between 1 and 65535"},
		{"named port syntax", spec(`{podSelector: {}, ingress: [{ports: [{port: Serve_80}]}]}`),
			Path{"spec", "ingress", 0, "ports", 0, "port"}, `"Serve_80"`},
		{"named port too long", spec(`{podSelector: {}, ingress: [{ports: [{port: serve-80-tcp-long}]}]}`),
			Path{"spec", "ingress", 0, "ports", 0, "port"}, "no more than 15 characters"},
		{"protocol", spec(`{podSelector: {}, ingress: [{ports: [{protocol: ICMP}]}]}`),
			Path{"spec", "ingress", 0, "ports", 0, "protocol"}, `unsupported value "ICMP"`},
		{"policyTypes", spec(`{podSelector: {}, policyTypes: [Ingress, Both]}`),
			Path{"spec", "policyTypes", 1}, `unsupported value "Both"`},
		{"too many policyTypes", spec(`{podSelector: {}, policyTypes: [Ingress, Egress, Ingress]}`),
			Path{"spec", "policyTypes"}, "may not specify more than two policyTypes"},
		{"selector operator without values", spec(`{podSelector: {matchExpressions: [{key: app, operator: In}]}}`),
			Path{"spec", "podSelector", "matchExpressions", 0, "values"}, "must be specified when `operator` is 'In' or 'NotIn'"},
		{"peer selector label value", spec(`{podSelector: {}, ingress: [{from: [{namespaceSelector: {matchLabels: {env: "a b"}}}]}]}`),
			Path{"spec", "ingress", 0, "from", 0, "namespaceSelector", "matchLabels"}, "Invalid value"},
		{"name", `{metadata: {namespace: x}, spec: {podSelector: {}}}`,
			Path{"metadata", "name"}, "name is required"},
		{"bad name", `{metadata: {name: Bad_Name, namespace: x}, spec: {podSelector: {}}}`,
			Path{"metadata", "name"}, `"Bad_Name" is invalid`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			errs := Validate(parsePolicy(t, tc.policy))
			if len(errs) != 1 {
				t.Fatalf("got %d errors, want 1: %v", len(errs), errs)
			}
			if !reflect.DeepEqual(errs[0].Path, tc.path) {
				t.Errorf("path = %#v, want %#v", errs[0].Path, tc.path)
			}
			if !strings.HasPrefix(errs[0].Msg, tc.path.String()+": ") || !strings.Contains(errs[0].Msg, tc.msg) {
				t.Errorf("msg = %q, want %q: ...%q...", errs[0].Msg, tc.path, tc.msg)
			}
			if _, err := Compile(parsePolicy(t, tc.policy)); err == nil {
				t.Error("Compile accepted an invalid policy")
			}
		})
	}
}

// TestValidateAll: every problem at once, in field order.
func TestValidateAll(t *testing.T) {
	t.Parallel()
	errs := Validate(parsePolicy(t, `{metadata: {name: p, namespace: x}, spec: {podSelector: {},
		ingress: [{from: [{}], ports: [{port: 0}]}], egress: [{to: [{ipBlock: {cidr: x}}]}]}}`))
	want := []string{"spec.ingress[0].ports[0].port", "spec.ingress[0].from[0]", "spec.egress[0].to[0].ipBlock.cidr"}
	if len(errs) != len(want) {
		t.Fatalf("errors = %v, want %d", errs, len(want))
	}
	for i, e := range errs {
		if e.Path.String() != want[i] {
			t.Errorf("error %d at %s, want %s", i, e.Path, want[i])
		}
	}
}

func TestValidateAccepts(t *testing.T) {
	t.Parallel()
	np := parsePolicy(t, `{metadata: {name: p, namespace: x}, spec: {podSelector: {matchLabels: {app: db}},
		ingress: [{from: [{namespaceSelector: {}, podSelector: {matchExpressions: [{key: tier, operator: DoesNotExist}]}},
			{ipBlock: {cidr: 10.0.0.1/8, except: [10.1.0.0/16]}}], ports: [{port: 8000, endPort: 8100}, {port: serve-80-tcp}, {protocol: UDP}]}],
		egress: [{}]}}`)
	if errs := Validate(np); len(errs) > 0 {
		t.Fatalf("valid policy refused: %v", errs)
	}
}

func TestDefault(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		spec string
		want []networkingv1.PolicyType
	}{
		{`{podSelector: {}}`, []networkingv1.PolicyType{"Ingress"}},
		{`{podSelector: {}, egress: []}`, []networkingv1.PolicyType{"Ingress"}},
		{`{podSelector: {}, egress: [{}]}`, []networkingv1.PolicyType{"Ingress", "Egress"}},
		{`{podSelector: {}, policyTypes: [Egress], ingress: [{}]}`, []networkingv1.PolicyType{"Egress"}},
	} {
		np := parsePolicy(t, `{metadata: {name: p}, spec: `+tc.spec+`}`)
		Default(np)
		if !reflect.DeepEqual(np.Spec.PolicyTypes, tc.want) {
			t.Errorf("%s: policyTypes = %v, want %v", tc.spec, np.Spec.PolicyTypes, tc.want)
		}
	}
	np := parsePolicy(t, `{metadata: {name: p}, spec: {podSelector: {}, ingress: [{ports: [{port: 80}, {port: 53, protocol: UDP}]}], egress: [{ports: [{port: 1}]}]}}`)
	Default(np)
	got := []corev1.Protocol{*np.Spec.Ingress[0].Ports[0].Protocol, *np.Spec.Ingress[0].Ports[1].Protocol, *np.Spec.Egress[0].Ports[0].Protocol}
	if want := []corev1.Protocol{"TCP", "UDP", "TCP"}; !reflect.DeepEqual(got, want) {
		t.Errorf("protocols = %v, want %v", got, want)
	}
}
