package cli_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"kinn.dev/kinn/lab/cni/cnitest"
)

// TestPodNetworks: pods asking for a second network through Multus's
// annotation (both forms) get a second interface from its
// NetworkAttachmentDefinition, shown by `get pods -o wide` and in the
// network-status annotation; traffic between two pods flows over it; and
// a deleted pod's second network is DELeted too.
func TestPodNetworks(t *testing.T) {
	e := newEnv(t, "cnimn")
	bin := cnitest.Link(t, "bridge", "host-local")
	doc := `kind: Cluster
apiVersion: kinn.dev/v1alpha1
nodes: [{role: control-plane}]
networking: {disableDefaultCNI: true}
cni:
  binDir: ` + bin + `
  confList: '{"cniVersion": "1.1.0", "name": "pods", "plugins": [{"type": "bridge", "bridge": "cni0", "isGateway": true,
    "ipam": {"type": "host-local", "ranges": [[{"subnet": "{{.PodCIDR}}"}]], "routes": [{"dst": "0.0.0.0/0"}]}}]}'
---
apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata: {name: data}
spec:
  config: '{"cniVersion": "1.0.0", "name": "data", "type": "bridge", "bridge": "data0",
    "ipam": {"type": "host-local", "ranges": [[{"subnet": "192.168.50.0/24"}]]}}'
---
apiVersion: v1
kind: Pod
metadata: {name: a, annotations: {k8s.v1.cni.cncf.io/networks: data}}
spec: {containers: [{name: c, image: x, args: [pause]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: b, annotations: {k8s.v1.cni.cncf.io/networks: '[{"name": "data", "interface": "data1"}]'}}
spec: {containers: [{name: c, image: x, args: [pause]}]}
`
	f := filepath.Join(t.TempDir(), "lab.yaml")
	os.WriteFile(f, []byte(doc), 0o644)
	e.up(f)
	out := e.must("get", "pods", "-o", "wide", "--name", e.name)
	ipA := regexp.MustCompile(`\bnet1=(192\.168\.50\.\d+)`).FindStringSubmatch(out)
	ipB := regexp.MustCompile(`\bdata1=(192\.168\.50\.\d+)`).FindStringSubmatch(out)
	if !strings.Contains(out, "NETWORKS") || ipA == nil || ipB == nil {
		t.Fatalf("get pods -o wide does not show both pods' second network:\n%s", out)
	}
	if y := e.must("get", "pod", "a", "-o", "yaml", "--name", e.name); !strings.Contains(y, `k8s.v1.cni.cncf.io/network-status`) ||
		!strings.Contains(y, `"name":"default/data","interface":"net1","ips":["`+ipA[1]+`"]`) {
		t.Errorf("pod a has no network-status annotation naming its second network:\n%s", y)
	}
	if out, errOut, code := e.run("exec", "--name", e.name, "a", "--", "ping", "-c1", "-W2", "-I", "net1", ipB[1]); code != 0 {
		t.Errorf("pod a cannot reach pod b over the second network (%s): %s%s", ipB[1], out, errOut)
	}
	if got := e.reservations("kinn-control-plane", "data"); len(got) != 2 {
		t.Errorf("host-local of the second network holds %v, want both pods' addresses", got)
	}
	e.must("delete", "pod", "b", "--grace-period", "0", "--name", e.name)
	if got := e.reservations("kinn-control-plane", "data"); len(got) != 1 || got[0] != ipA[1] {
		t.Errorf("after deleting pod b, the second network holds %v, want only pod a's %s", got, ipA[1])
	}
}
