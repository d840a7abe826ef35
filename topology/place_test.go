package topology

import "testing"

// TestParseLivePlacement: running pods stay on their nodes when the file
// changes, unless the node is gone or no longer fits them.
func TestParseLivePlacement(t *testing.T) {
	t.Parallel()
	src := []byte(`kind: Cluster
apiVersion: kinn.dev/v1alpha1
nodes: [{role: control-plane}, {role: worker}, {role: worker, labels: {disk: ssd}}]
---
apiVersion: v1
kind: Pod
metadata: {name: a}
spec: {containers: [{name: c, image: x}]}
---
apiVersion: v1
kind: Pod
metadata: {name: b}
spec: {containers: [{name: c, image: x}]}
---
apiVersion: v1
kind: Pod
metadata: {name: c}
spec: {nodeSelector: {disk: ssd}, containers: [{name: c, image: x}]}
`)
	fresh, _, err := Parse("t.yaml", src)
	if err != nil {
		t.Fatal(err)
	}
	if got := nodeOf(fresh, "a") + " " + nodeOf(fresh, "b"); got != "kinn-worker kinn-worker2" {
		t.Fatalf("fresh placement %s", got)
	}
	placed := map[string]string{
		"default/a": "kinn-worker2",       // still fits: stays
		"default/b": "gone-node",          // node removed: placed afresh
		"default/c": "kinn-control-plane", // selector no longer fits: moves
	}
	l, _, err := ParseLive("t.yaml", src, Live{Placed: placed})
	if err != nil {
		t.Fatal(err)
	}
	for pod, want := range map[string]string{"a": "kinn-worker2", "b": "kinn-worker", "c": "kinn-worker2"} {
		if got := nodeOf(l, pod); got != want {
			t.Errorf("pod %s on %s, want %s", pod, got, want)
		}
	}
}

func nodeOf(l *Lab, pod string) string {
	for _, p := range l.Pods {
		if p.Name == pod {
			return p.Node
		}
	}
	return ""
}
