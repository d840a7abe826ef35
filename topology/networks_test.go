package topology

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseNetworks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want []PodNetwork
		err  string
	}{
		{"net-a, other/net-b@eth5,net-c", []PodNetwork{{"ns", "net-a", "net1"}, {"other", "net-b", "eth5"}, {"ns", "net-c", "net3"}}, ""},
		{`[{"name": "net-a", "interface": "data0"}, {"name": "net-b", "namespace": "other"}]`, []PodNetwork{{"ns", "net-a", "data0"}, {"other", "net-b", "net2"}}, ""},
		{"", nil, ""},
		{"net-a@eth0", nil, "interface eth0 is named twice"},
		{"net-a,net-b@net1", nil, "interface net1 is named twice"},
		{"Net_A", nil, `network "Net_A"`},
		{"net-a@averyveryverylongname", nil, "at most 15 characters"},
		{`[{"name": 1}]`, nil, "not a JSON list of networks"},
	} {
		got, err := ParseNetworks(tc.in, "ns")
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: %+v %v, want %+v", tc.in, got, err, tc.want)
		}
	}
}

const nadDoc = `kind: Cluster
apiVersion: kinn.dev/v1alpha1
---
apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata: {name: data}
spec:
  config: '{"cniVersion": "1.0.0", "name": "data", "type": "bridge", "ipam": {"type": "host-local", "subnet": "192.168.50.0/24"}}'
`

// TestPodNetworks: a pod and a Deployment's pods get the networks their
// annotation names; every mistake is reported at its place.
func TestPodNetworks(t *testing.T) {
	t.Parallel()
	doc := nadDoc + `---
apiVersion: v1
kind: Pod
metadata: {name: a, annotations: {k8s.v1.cni.cncf.io/networks: data}}
spec: {containers: [{name: c, image: x}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: w}
spec:
  replicas: 2
  selector: {matchLabels: {app: w}}
  template:
    metadata: {labels: {app: w}, annotations: {k8s.v1.cni.cncf.io/networks: '[{"name": "data", "interface": "data0"}]'}}
    spec: {containers: [{name: c, image: x}]}
`
	l, _, err := Parse("lab.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(l.NetworkAttachments) != 1 || l.NetworkAttachments[0].Key() != "default/data" {
		t.Fatalf("attachments %+v", l.NetworkAttachments)
	}
	n := 0
	for _, p := range l.Pods {
		switch {
		case p.Name == "a":
			n++
			if !reflect.DeepEqual(p.Networks, []PodNetwork{{"default", "data", "net1"}}) {
				t.Errorf("pod a networks %+v", p.Networks)
			}
		case strings.HasPrefix(p.Name, "w-"):
			n++
			if !reflect.DeepEqual(p.Networks, []PodNetwork{{"default", "data", "data0"}}) {
				t.Errorf("pod %s networks %+v", p.Name, p.Networks)
			}
		}
	}
	if n != 3 {
		t.Errorf("%d pods with networks, want 3", n)
	}

	bad := nadDoc + `---
apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata: {name: broken}
spec:
  config: '{"name": "x"'
---
apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata: {name: notype}
spec: {config: '{"name": "x"}'}
---
apiVersion: v1
kind: Pod
metadata: {name: a, annotations: {k8s.v1.cni.cncf.io/networks: "data,missing"}}
spec: {containers: [{name: c, image: x}]}
---
apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata: {name: kinnplugin}
spec: {config: '{"cniVersion": "1.1.0", "name": "k", "plugins": [{"type": "kinn", "subnet": "10.9.0.0/24"}]}'}
`
	_, _, err = Parse("lab.yaml", []byte(bad))
	for _, want := range []string{
		"lab.yaml:14:11: spec.config is not a CNI configuration",
		"lab.yaml:19:16: spec.config names no plugin",
		"lab.yaml:23:64: k8s.v1.cni.cncf.io/networks: no NetworkAttachmentDefinition default/missing in the lab",
		"lab.yaml:29:16: spec.config uses kinn's own plugin, which serves only a pod's default network",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q in:\n%v", want, err)
		}
	}
}
