package cli_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kinn.dev/kinn/lab/kernel/kerneltest"
	"kinn.dev/kinn/topology"
)

// TestLongestNames brings up a lab with every name at its limit — the
// longest lab name, two pods of 253 characters in a namespace of 63, and a
// Service and port names of 63 with session affinity, so that the proxy
// needs a chain and a set per long-named endpoint — then checks that the
// pods and the Service work, and that down leaves nothing behind.
func TestLongestNames(t *testing.T) {
	kerneltest.RequireRoot(t)
	// UniqueName adds "-" and 6 hex digits.
	prefix := "long" + strings.Repeat("n", topology.MaxLabNameLen-len("long")-7)
	before := kerneltest.HostSnapshot(t)
	e := newEnv(t, prefix)
	if len(e.name) != topology.MaxLabNameLen {
		t.Fatalf("lab name %q has %d characters, want %d", e.name, len(e.name), topology.MaxLabNameLen)
	}
	long := func(tag string, n int) string { return tag + strings.Repeat("x", n-len(tag)-1) + "z" }
	// The two pods differ in their last character only: their shortened
	// namespace names differ by the hash alone.
	ns := long("ns", 63)
	server := func(name string) string {
		return fmt.Sprintf(`---
apiVersion: v1
kind: Pod
metadata: {name: %s, namespace: %s, labels: {app: web}}
spec:
  containers:
  - name: web
    image: registry.k8s.io/e2e-test-images/agnhost:2.53
    args: [netexec, --http-port=8080]
    ports: [{name: http, containerPort: 8080}]
`, name, ns)
	}
	doc := fmt.Sprintf(`kind: Cluster
apiVersion: kinn.dev/v1alpha1
name: %s
nodes: [{role: control-plane}, {role: worker}]
---
{apiVersion: v1, kind: Namespace, metadata: {name: %s}}
%s%s---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  containers: [{name: client, image: registry.k8s.io/e2e-test-images/agnhost:2.53, args: [pause]}]
---
apiVersion: v1
kind: Service
metadata: {name: %s, namespace: %s}
spec:
  sessionAffinity: ClientIP
  selector: {app: web}
  ports: [{name: %s, port: 80, targetPort: http}]
`, e.name, ns, server(long("a", 252)+"a"), server(long("a", 252)+"b"), long("svc", 63), ns, long("http", 63))
	f := filepath.Join(t.TempDir(), "longest.yaml")
	if err := os.WriteFile(f, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}

	e.up(f)
	if n := len(e.userPods()); n != 3 {
		t.Fatalf("%d pods, want 3", n)
	}
	if failed := e.pingAll(); len(failed) != 0 {
		t.Errorf("%d pings failed: %v", len(failed), failed)
	}
	e.checkPasses()
	if out := e.must("up", "--name", e.name, "-f", f); !strings.Contains(out, "(0 kernel changes, 0 pods attached, 0 namespaces removed)") {
		t.Errorf("second up was not a no-op:\n%s", out)
	}
	e.must("down", "--name", e.name)
	e.assertGone()
	if d := kerneltest.DiffLines(before, kerneltest.HostSnapshot(t)); d != "" {
		t.Errorf("down left the host changed:\n%s", d)
	}
}
