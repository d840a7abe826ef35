package topology

import (
	"bytes"
	"cmp"
	"os"
	"slices"
	"strings"
	"testing"
)

func editBase(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/valid-edit-base.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// chunkTexts cuts a stream into its documents' texts, to compare untouched
// documents byte for byte.
func chunkTexts(b []byte) []string {
	var out []string
	for _, c := range cut(b) {
		out = append(out, strings.TrimPrefix(string(c.text), "---\n"))
	}
	return out
}

// keep asserts that every document of base but the ones at skip appears
// unchanged in got.
func keep(t *testing.T, base, got []byte, skip ...int) {
	t.Helper()
	for i, c := range chunkTexts(base) {
		if !slices.Contains(skip, i) && !bytes.Contains(got, []byte(c)) {
			t.Errorf("document %d changed or lost:\n%s\nin:\n%s", i, c, got)
		}
	}
}

func parsed(t *testing.T, b []byte) *Lab {
	t.Helper()
	lab, _, err := Parse("edited.yaml", b)
	if err != nil {
		t.Fatalf("result does not parse: %v\n%s", err, b)
	}
	return userOnly(lab)
}

func replicasOf(lab *Lab, ns, name string) int {
	for _, d := range lab.Deployments {
		if d.Namespace == ns && d.Name == name {
			return int(*d.Spec.Replicas)
		}
	}
	return -1
}

func podsOf(lab *Lab, owner string) int {
	n := 0
	for _, p := range lab.Pods {
		if p.Owner == owner {
			n++
		}
	}
	return n
}

const webV2 = `# web, version two
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
spec:
  replicas: 4
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web, v: "2"}
    spec:
      containers:
      - name: web
        image: agnhost:2
`

func TestApply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		applied string
		keep    []int // documents of the base that must not change (all but these)
		check   func(t *testing.T, lab *Lab, out string)
	}{
		{
			name:    "an object replaces the one with its kind, namespace and name, in place and with its comments",
			applied: webV2,
			keep:    []int{1},
			check: func(t *testing.T, lab *Lab, out string) {
				if replicasOf(lab, "default", "web") != 4 || podsOf(lab, "Deployment/web") != 4 {
					t.Errorf("web not replaced: %d replicas", replicasOf(lab, "default", "web"))
				}
				if i, j := strings.Index(out, "# web, version two"), strings.Index(out, "kind: Service"); i < 0 || i > j {
					t.Errorf("web is not where it was:\n%s", out)
				}
			},
		},
		{
			name: "new objects are added at the end; several at once",
			applied: "apiVersion: v1\nkind: Service\nmetadata: {name: cart, namespace: shop}\nspec:\n  selector: {app: cart}\n  ports: [{port: 80}]\n" +
				"---\napiVersion: v1\nkind: Pod\nmetadata: {name: probe, namespace: tools}\nspec: {containers: [{name: c, image: x}]}\n",
			check: func(t *testing.T, lab *Lab, out string) {
				if len(lab.Services) != 2 || lab.Services[1].Name != "cart" || !slices.Contains(lab.Namespaces, "tools") {
					t.Errorf("services = %d, namespaces = %v", len(lab.Services), lab.Namespaces)
				}
				if !strings.HasSuffix(out, "spec: {containers: [{name: c, image: x}]}\n") {
					t.Errorf("not appended:\n%s", out)
				}
			},
		},
		{
			name:    "a pod may use the lab's own nodes, which the default cluster lacks",
			applied: "apiVersion: v1\nkind: Pod\nmetadata: {name: pinned}\nspec:\n  nodeSelector: {kubernetes.io/hostname: edit-worker}\n  containers: [{name: c, image: x}]\n",
			check: func(t *testing.T, lab *Lab, out string) {
				for _, p := range lab.Pods {
					if p.Name == "pinned" && p.Node != "edit-worker" {
						t.Errorf("pinned on %s", p.Node)
					}
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			base := editBase(t)
			out, err := Apply(base, "lab.yaml", []byte(tt.applied), "applied.yaml")
			if err != nil {
				t.Fatal(err)
			}
			keep(t, base, out, tt.keep...)
			tt.check(t, parsed(t, out), string(out))
		})
	}
}

func TestApplyErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		applied string
		want    []string // lines of the error
	}{
		{
			name:    "a cluster document",
			applied: "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n---\n# more nodes\nkind: Cluster\napiVersion: kinn.dev/v1alpha1\nnodes: [{role: worker}]\n",
			want: []string{"applied.yaml:6:1: a running lab's cluster cannot change: remove this cluster document " +
				"(to change nodes or networking, recreate the lab with kinn down and kinn up)"},
		},
		{
			name:    "every problem of the applied file, at its positions",
			applied: "\n\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: -1\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: c, image: x, colour: red}]}\n",
			want: []string{
				"applied.yaml:7:13: spec.replicas -1 must be in 0..65536",
				`applied.yaml:11:45: unknown field "spec.template.spec.containers[0].colour"`,
			},
		},
		{
			name:    "a syntax error",
			applied: "apiVersion: v1\nkind: [\n",
			want:    []string{"applied.yaml:2:1: did not find expected node content"},
		},
		{
			name:    "kinds kinn skips",
			applied: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
			want:    []string{"applied.yaml:2:7: cannot apply v1 ConfigMap: kinn only models Namespaces, Pods, Deployments, DaemonSets, Services, EndpointSlices, NetworkPolicies and NetworkAttachmentDefinitions"},
		},
		{
			name:    "a clash with the lab's objects points at the applied object",
			applied: "apiVersion: v1\nkind: Service\nmetadata: {name: other}\nspec:\n  type: NodePort\n  ports: [{port: 80, nodePort: 30080}]\n",
			want: []string{
				"applied.yaml does not fit the lab's topology lab.yaml:",
				"applied.yaml:6:32: spec.ports[0].nodePort 30080/TCP is already used by Service default/web (line 38)",
			},
		},
		{
			name:    "nothing to apply",
			applied: "# just a comment\n---\n",
			want:    []string{"applied.yaml holds no objects to apply"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Apply(editBase(t), "lab.yaml", []byte(tt.applied), "applied.yaml")
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if got := strings.Split(err.Error(), "\n"); !slices.Equal(got, tt.want) {
				t.Errorf("error:\n%s\nwant:\n%s", err, strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestDelete(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kind, ns, name string
		gone           []int // documents of the base that go
		wantErr        string
		check          func(t *testing.T, lab *Lab)
	}{
		{kind: "deploy", name: "web", gone: []int{1}, check: func(t *testing.T, lab *Lab) {
			if replicasOf(lab, "default", "web") != -1 || podsOf(lab, "Deployment/web") != 0 {
				t.Error("web is still there")
			}
		}},
		{kind: "svc", ns: "default", name: "web", gone: []int{2}, check: func(t *testing.T, lab *Lab) {
			if len(lab.Services) != 0 {
				t.Error("the Service is still there")
			}
		}},
		{kind: "Deployments", ns: "shop", name: "flow", gone: []int{3}, check: func(t *testing.T, lab *Lab) {
			if replicasOf(lab, "shop", "cart") != 1 || replicasOf(lab, "shop", "flow") != -1 {
				t.Error("deleted the wrong Deployment")
			}
		}},
		{kind: "po", name: "client", gone: []int{6}, check: func(t *testing.T, lab *Lab) {
			if len(lab.Pods) != 4 {
				t.Errorf("%d pods left, want 4", len(lab.Pods))
			}
		}},
		{kind: "ns", name: "shop", gone: []int{3, 4, 5}, check: func(t *testing.T, lab *Lab) {
			if slices.Contains(lab.Namespaces, "shop") || len(lab.Deployments) != 1 {
				t.Errorf("shop's objects are still there: %v", lab.Namespaces)
			}
		}},
		{kind: "deployment", ns: "default", name: "cart", wantErr: `deployment "cart" not found in namespace "default"`},
		{kind: "ds", name: "web", wantErr: `daemonset "web" not found in namespace "default"`},
		{kind: "namespace", name: "nope", wantErr: `namespace "nope" not found`},
		{kind: "ns", name: "default", wantErr: `namespace "default" cannot be deleted: the cluster needs it`},
		{kind: "configmap", name: "x", wantErr: `unknown kind "configmap": use pod, deployment, service, daemonset, namespace, endpointslice, networkpolicy or net-attach-def`},
	}
	for _, tt := range tests {
		t.Run(tt.kind+"/"+tt.name, func(t *testing.T) {
			t.Parallel()
			base := editBase(t)
			out, err := Delete(base, tt.kind, tt.ns, tt.name)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			keep(t, base, out, tt.gone...)
			if got, want := len(chunkTexts(out)), len(chunkTexts(base))-len(tt.gone); got != want {
				t.Errorf("%d documents left, want %d", got, want)
			}
			tt.check(t, parsed(t, out))
		})
	}
}

func TestScale(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ns, name string
		replicas int
		wantLine string // a line the result must hold
		wantErr  string
	}{
		{name: "web", replicas: 5, wantLine: "  replicas: 5  # two to start with\n"},
		{name: "web", replicas: 0, wantLine: "  replicas: 0  # two to start with\n"},
		{ns: "shop", name: "cart", replicas: 3, wantLine: "spec:\n  replicas: 3\n  selector:\n"},
		{ns: "shop", name: "flow", replicas: 2, wantLine: "replicas: 2"}, // flow style: re-encoded
		{name: "cart", replicas: 1, wantErr: `deployment "cart" not found in namespace "default"`},
		{name: "web", replicas: -1, wantErr: "replicas -1: must be 0 or more"},
	}
	for _, tt := range tests {
		t.Run(tt.name+"="+tt.wantLine, func(t *testing.T) {
			t.Parallel()
			base := editBase(t)
			out, err := Scale(base, tt.ns, tt.name, tt.replicas)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(out), tt.wantLine) {
				t.Errorf("no %q in:\n%s", tt.wantLine, out)
			}
			lab := parsed(t, out)
			ns := cmp.Or(tt.ns, "default")
			if got := replicasOf(lab, ns, tt.name); got != tt.replicas {
				t.Errorf("replicas = %d, want %d", got, tt.replicas)
			}
			if got := podsOf(lab, "Deployment/"+tt.name); got != tt.replicas {
				t.Errorf("%d pods, want %d", got, tt.replicas)
			}
			doc := map[string]int{"default/web": 1, "shop/flow": 3, "shop/cart": 4}[ns+"/"+tt.name]
			keep(t, base, out, doc)
			if len(out)-len(base) > 20 && doc != 3 {
				t.Errorf("more than the number changed:\n%s", out)
			}
		})
	}
}

func TestScaleTooMany(t *testing.T) {
	t.Parallel()
	_, err := Scale(editBase(t), "", "web", 1<<20)
	if err == nil || !strings.Contains(err.Error(), "spec.replicas 1048576 must be in 0..65536") {
		t.Errorf("error = %v, want the parser's range error", err)
	}
}

// FuzzCut: cutting a stream loses and reorders nothing, and readStream
// never panics.
func FuzzCut(f *testing.F) {
	f.Add([]byte("a: 1\n---\nb: 2\n--- # c\n...\n"))
	f.Add([]byte("---\n---x\n --- \n---"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var joined []byte
		for _, c := range cut(data) {
			joined = append(joined, c.text...)
		}
		if !bytes.Equal(joined, data) {
			t.Errorf("cut(%q) joins to %q", data, joined)
		}
		_, _ = readStream("f", data)
	})
}

// An EndpointSlice is applied, replaced and deleted like any object.
func TestApplyDeleteEndpointSlice(t *testing.T) {
	t.Parallel()
	slice := func(ip string) string {
		return "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: db-1\n  labels: {kubernetes.io/service-name: db}\n" +
			"addressType: IPv4\nendpoints:\n- addresses: [\"" + ip + "\"]\nports:\n- port: 5432\n"
	}
	out, err := Apply(editBase(t), recorded, []byte(slice("10.244.0.7")), "slice.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out, err = Apply(out, recorded, []byte(slice("10.244.0.8")), "slice.yaml")
	if err != nil {
		t.Fatal(err)
	}
	lab := parsed(t, out)
	if len(lab.EndpointSlices) != 1 || lab.EndpointSlices[0].Endpoints[0].Addresses[0] != "10.244.0.8" {
		t.Fatalf("slices after two applies = %+v, want db-1 with 10.244.0.8", lab.EndpointSlices)
	}
	out, err = Delete(out, "endpointslices.discovery.k8s.io", "", "db-1")
	if err != nil {
		t.Fatal(err)
	}
	if got := parsed(t, out).EndpointSlices; len(got) != 0 {
		t.Errorf("slices after delete = %+v, want none", got)
	}
}
