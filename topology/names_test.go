package topology

import (
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
)

// longName is a valid name of n characters: DNS-1123 label characters,
// starting and ending with a letter.
func longName(n int) string {
	b := []byte(strings.Repeat("abcdefghij-", n/11+1)[:n])
	b[n-1] = 'z'
	return string(b)
}

func TestCheckLabName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ok   bool
	}{
		{"kinn", true},
		{"a", true},
		{"lab-2", true},
		{longName(MaxLabNameLen), true},
		{longName(MaxLabNameLen + 1), false}, // its 999th control plane would be a 64-character hostname
		{longName(63), false},                // a DNS label, still too long
		{"", false},
		{"My-Lab", false},
		{"my.lab", false},
		{"my_lab", false},
		{"-lab", false},
		{"lab-", false},
	}
	for _, tt := range tests {
		err := CheckLabName(tt.name)
		if (err == nil) != tt.ok {
			t.Errorf("CheckLabName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
		if err != nil && !strings.Contains(err.Error(), fmt.Sprintf("1 to %d lowercase letters, digits or '-'", MaxLabNameLen)) {
			t.Errorf("CheckLabName(%q) = %q: does not say what a valid name is", tt.name, err)
		}
	}
}

// TestLabNameLimit: with the longest valid lab name, every node name of
// the biggest lab is a valid label, and the limit is tight.
func TestLabNameLimit(t *testing.T) {
	t.Parallel()
	if MaxLabNameLen != 46 {
		t.Errorf("MaxLabNameLen = %d, want 63 - len(\"-control-plane999\") = 46", MaxLabNameLen)
	}
	lab := longName(MaxLabNameLen)
	for _, role := range []Role{RoleControlPlane, RoleWorker} {
		for _, i := range []int{0, 1, 9, 99, MaxNodes - 1} {
			if n := nodeName(lab, string(role), i); len(validation.IsDNS1123Label(n)) > 0 {
				t.Errorf("node name %q (%d characters) is not a DNS label", n, len(n))
			}
		}
	}
	if n := nodeName(lab+"x", string(RoleControlPlane), MaxNodes-1); len(validation.IsDNS1123Label(n)) == 0 {
		t.Errorf("a lab name one longer still gives valid node names (%q): the limit is not tight", n)
	}
}

// TestLabNameAndNodeCount: the file's name and node count are checked
// against the same limits, at their place in the file.
func TestLabNameAndNodeCount(t *testing.T) {
	t.Parallel()
	cluster := func(name string, nodes int) string {
		return fmt.Sprintf("kind: Cluster\napiVersion: kinn.dev/v1alpha1\nname: %s\nnetworking: {podSubnet: 10.128.0.0/9, nodeSubnet: 172.16.0.0/12}\nnodes:\n%s",
			name, strings.Repeat("- role: control-plane\n", nodes))
	}
	tests := []struct {
		what, src, want string // want: "" or "LINE:COL: substring"
	}{
		{"longest name", cluster(longName(MaxLabNameLen), 3), ""},
		{"name one too long", cluster(longName(MaxLabNameLen+1), 3), `3:7: invalid lab name "` + longName(MaxLabNameLen+1) + `"`},
		{"most nodes", cluster("big", MaxNodes), ""},
		{"one node too many", cluster("big", MaxNodes+1), "5:1: nodes: 1000 nodes; a lab has at most 999"},
	}
	for _, tt := range tests {
		t.Run(tt.what, func(t *testing.T) {
			t.Parallel()
			lab, _, err := Parse("t.yaml", []byte(tt.src))
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				last := lab.Nodes[len(lab.Nodes)-1].Name
				if len(validation.IsDNS1123Label(last)) > 0 {
					t.Errorf("node name %q is not a DNS label", last)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error; want %s", tt.want)
			}
			matchAll(t, strings.Split(strings.ReplaceAll(err.Error(), "t.yaml:", ""), "\n"), []string{tt.want})
		})
	}
}

// TestGeneratedNameLength: workloads with the longest names Kubernetes
// allows get pod names cut as the API server cuts generateName prefixes:
// at most 63 characters, the start of the prefix kept.
func TestGeneratedNameLength(t *testing.T) {
	t.Parallel()
	name := longName(validation.DNS1123SubdomainMaxLength)
	src := fmt.Sprintf(`kind: Cluster
apiVersion: kinn.dev/v1alpha1
nodes: [{role: control-plane}, {role: worker}, {role: worker}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s}
spec:
  replicas: 3
  selector: {matchLabels: {app: d}}
  template:
    metadata: {labels: {app: d}}
    spec: {containers: [{name: c, image: x}]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: %[1]s}
spec:
  selector: {matchLabels: {app: ds}}
  template:
    metadata: {labels: {app: ds}}
    spec: {containers: [{name: c, image: x}]}
`, name)
	lab, _, err := Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range userOnly(lab).Pods {
		n++
		if len(p.Name) != 63 || !strings.HasPrefix(p.Name, name[:58]) || strings.Trim(p.Name[58:], alphabet) != "" {
			t.Errorf("%s pod %q (%d characters): want the prefix's first 58 characters and a 5-character suffix", p.Owner, p.Name, len(p.Name))
		}
		if errs := validation.IsDNS1123Subdomain(p.Name); len(errs) > 0 {
			t.Errorf("%s pod %q: %v", p.Owner, p.Name, errs)
		}
	}
	if n != 5 {
		t.Errorf("%d pods, want 3 of the Deployment and 2 of the DaemonSet", n)
	}
}
