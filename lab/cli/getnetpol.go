package cli

import (
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kinn.dev/kinn/lab"
	"kinn.dev/kinn/lab/service"
)

// listNetworkPolicies is `kubectl get networkpolicies`: the policies as the
// API server stores them, defaulted (policyTypes filled in).
func listNetworkPolicies(st *lab.State, r getRequest) *listing {
	var nps []networkingv1.NetworkPolicy
	var metas []metav1.ObjectMeta
	for _, np := range st.Topology.NetworkPolicies {
		if r.keep(np.Namespace, np.Name, np.Labels) {
			np := *np.DeepCopy()
			np.TypeMeta = metav1.TypeMeta{Kind: "NetworkPolicy", APIVersion: "networking.k8s.io/v1"}
			nps, metas = append(nps, np), append(metas, np.ObjectMeta)
		}
	}
	l := &listing{table: networkPolicyTable(nps, r.ns == ""),
		object: single(r, nps, networkingv1.NetworkPolicyList{TypeMeta: metav1.TypeMeta{Kind: "NetworkPolicyList", APIVersion: "networking.k8s.io/v1"}, Items: nps})}
	return r.finish(l, metas)
}

// networkPolicyTable has kubectl's columns, NAME POD-SELECTOR (no AGE);
// an empty selector, every pod of the namespace, is "<none>" as kubectl
// prints it. -o wide adds nothing, as in kubectl.
func networkPolicyTable(nps []networkingv1.NetworkPolicy, allNamespaces bool) service.Table {
	t := service.Table{Header: []string{"NAME", "POD-SELECTOR"}}
	for _, np := range nps {
		t.Rows = append(t.Rows, []string{np.Name, metav1.FormatLabelSelector(&np.Spec.PodSelector)})
	}
	return service.WithNamespace(t, allNamespaces, func(i int) string { return nps[i].Namespace })
}

// namespaceLabels are the labels the topology gives a namespace plus the
// one the API server gives every namespace, kubernetes.io/metadata.name.
func namespaceLabels(st *lab.State, name string) map[string]string {
	out := map[string]string{}
	for k, v := range st.Topology.NamespaceLabels[name] {
		out[k] = v
	}
	out[corev1.LabelMetadataName] = name
	return out
}
