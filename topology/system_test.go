package topology

import (
	"testing"
)

// TestAddOns: every lab has the kubernetes and kube-dns Services on
// kubeadm's addresses and two DNS pods spread over nodes, and a file that
// defines one of them keeps its own.
func TestAddOns(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, doc string
		nodes     []string // where the DNS pods go
	}{
		// CoreDNS tolerates the control plane, where kind's usually runs.
		{"default", string(DefaultYAML()), []string{"kinn-control-plane", "kinn-worker"}},
		{"one node", "kind: Cluster\napiVersion: kinn.dev/v1alpha1\n", []string{"kinn-control-plane", "kinn-control-plane"}},
		{"two nodes", "kind: Cluster\napiVersion: kinn.dev/v1alpha1\nnodes: [{role: control-plane}, {role: worker}]\n",
			[]string{"kinn-control-plane", "kinn-worker"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lab, _, err := Parse("t.yaml", []byte(tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			ips := map[string]string{}
			for _, s := range lab.Services {
				ips[s.Namespace+"/"+s.Name] = s.Spec.ClusterIP
			}
			if ips["default/kubernetes"] != "10.96.0.1" || ips["kube-system/kube-dns"] != "10.96.0.10" {
				t.Errorf("add-on services: %v", ips)
			}
			var nodes []string
			for _, p := range lab.Pods {
				if IsDNSPod(p.Pod) {
					nodes = append(nodes, p.Node)
				}
			}
			if len(nodes) != 2 || nodes[0] != tc.nodes[0] || nodes[1] != tc.nodes[1] {
				t.Errorf("DNS pods on %v, want %v", nodes, tc.nodes)
			}
		})
	}
	own := string(DefaultYAML()) + "---\napiVersion: v1\nkind: Service\nmetadata: {name: kubernetes}\nspec: {ports: [{port: 80}]}\n"
	lab, _, err := Parse("t.yaml", []byte(own))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range lab.Services {
		if s.Name == "kubernetes" {
			n++
			if IsAddOn(s) || s.Spec.Ports[0].Port != 80 {
				t.Errorf("the file's own kubernetes Service was replaced: %+v", s.Spec)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d kubernetes Services", n)
	}
}
