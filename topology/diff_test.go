package topology

import (
	"strings"
	"testing"
)

const diffCluster = `kind: Cluster
apiVersion: kinn.dev/v1alpha1
nodes: [{role: control-plane}, {role: worker}, {role: worker}]
`

const diffWeb = `---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: x, ports: [{containerPort: 8080}]}]}
`

const diffSvc = `---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
`

const diffTeam = `---
apiVersion: v1
kind: Namespace
metadata: {name: team}
---
apiVersion: v1
kind: Pod
metadata: {name: tool, namespace: team}
spec: {nodeName: kinn-worker, containers: [{name: c, image: x}]}
`

// resolvedPair resolves from, then to with from's placement, as `kinn up
// -f` resolves a file against a running lab.
func resolvedPair(t *testing.T, from, to string) (*Lab, *Lab) {
	t.Helper()
	a, _, err := Parse("from.yaml", []byte(from))
	if err != nil {
		t.Fatalf("from: %v", err)
	}
	live := Live{Placed: map[string]string{}}
	for _, p := range a.Pods {
		live.Placed[p.Key()] = p.Node
	}
	b, _, err := ParseLive("to.yaml", []byte(to), live)
	if err != nil {
		t.Fatalf("to: %v", err)
	}
	return a, b
}

func TestDiff(t *testing.T) {
	base := diffCluster + diffWeb + diffSvc + diffTeam
	for _, tc := range []struct {
		name        string
		to          string
		want        []string // the changes' lines, in order
		destructive bool
	}{
		{name: "same", to: base},
		{name: "same, another layout", to: diffCluster + diffTeam + diffSvc + diffWeb},
		{
			name: "object added",
			to:   base + "---\napiVersion: v1\nkind: Service\nmetadata: {name: extra}\nspec: {selector: {app: web}, ports: [{port: 81}]}\n",
			want: []string{"+ Service default/extra"},
		},
		{
			name:        "object dropped",
			to:          diffCluster + diffWeb + diffTeam,
			want:        []string{"- Service default/web"},
			destructive: true,
		},
		{
			name: "object changed",
			to:   strings.Replace(base, "port: 80,", "port: 81,", 1),
			want: []string{"~ Service default/web"},
		},
		{
			name: "scaled up",
			to:   strings.Replace(base, "replicas: 2", "replicas: 3", 1),
			want: []string{"~ Deployment default/web: replicas 2 -> 3", "+ Pod default/web-"},
		},
		{
			name:        "scaled down",
			to:          strings.Replace(base, "replicas: 2", "replicas: 1", 1),
			want:        []string{"~ Deployment default/web: replicas 2 -> 1", "- Pod default/web-"},
			destructive: true,
		},
		{
			name:        "namespace and its pod dropped",
			to:          diffCluster + diffWeb + diffSvc,
			want:        []string{"- Namespace team", "- Pod team/tool: from kinn-worker"},
			destructive: true,
		},
		{
			name:        "pod moves node",
			to:          strings.Replace(base, "nodeName: kinn-worker,", "nodeName: kinn-worker2,", 1),
			want:        []string{"~ Pod team/tool: moves from kinn-worker to kinn-worker2 (recreated)"},
			destructive: true,
		},
		{
			name: "node removed",
			to:   strings.Replace(base, ", {role: worker}]", "]", 1),
			want: []string{"- Node kinn-worker2: its pods go with it",
				"~ Pod default/web-", "~ Pod kube-system/coredns-"}, // moved to kinn-worker
			destructive: true,
		},
		{
			name: "node added",
			to:   strings.Replace(base, "{role: worker}]", "{role: worker}, {role: worker}]", 1),
			want: []string{"+ Node kinn-worker3: worker"},
		},
		{
			name:        "network setting",
			to:          strings.Replace(base, "nodes:", "networking: {mtu: 1400}\nnodes:", 1),
			want:        []string{"~ networking.mtu: 1500 -> 1400"},
			destructive: true,
		},
		{
			name:        "template changed: pods replaced",
			to:          strings.Replace(base, "image: x, ports", "image: y, ports", 1),
			want:        []string{"~ Deployment default/web: spec", "- Pod default/web-", "- Pod default/web-", "+ Pod default/web-", "+ Pod default/web-"},
			destructive: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			from, to := resolvedPair(t, base, tc.to)
			got := Diff(from, to)
			if len(got) != len(tc.want) {
				t.Fatalf("%d changes, want %d:\n%s", len(got), len(tc.want), got.Format("  "))
			}
			for i, c := range got {
				if !strings.HasPrefix(c.String(), tc.want[i]) {
					t.Errorf("change %d is %q, want %q...", i, c, tc.want[i])
				}
			}
			if got.Destructive() != tc.destructive {
				t.Errorf("destructive = %v, want %v:\n%s", got.Destructive(), tc.destructive, got.Format("  "))
			}
		})
	}
}
