package cli_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

var recordTraces = flag.Bool("trace.record", false, "record real traces into ../trace/testdata/journeys (then: go test ./lab/trace -update)")

// traceLocal is a NodePort with externalTrafficPolicy Local over pod far
// (traceFar) alone.
const traceLocal = `apiVersion: v1
kind: Service
metadata:
  name: local
spec:
  type: NodePort
  externalTrafficPolicy: Local
  selector: {app: far}
  ports: [{port: 80, targetPort: 8080, nodePort: 30081}]
`

// TestTraceRecord records the journeys lab/trace's golden tests tell
// again, from real traces on the default lab and the reference bridge
// chain's: `go test ./lab/cli -run TestTraceRecord -trace.record` (as
// root), then `go test ./lab/trace -update`.
func TestTraceRecord(t *testing.T) {
	if !*recordTraces {
		t.Skip("records only with -trace.record")
	}
	dir, err := filepath.Abs("../trace/testdata/journeys")
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(dir, 0o755)
	e := newEnv(t, "tchr")
	e.up("")
	var clientNode, otherNode string
	for _, p := range e.pods() {
		if p.Name == "client" {
			clientNode = p.Spec.NodeName
		}
	}
	for _, n := range e.nodes() {
		if n.Name != clientNode && !strings.Contains(n.Name, "control-plane") {
			otherNode = n.Name
		}
	}
	e.apply(strings.Replace(traceFar, "NODE", otherNode, 1)) // and Service empty
	e.apply(traceLocal)
	e.waitPod("far", func(p corev1.Pod) bool { return p.Status.PodIP != "" })
	record := func(e *env, name string, wantCode int, args ...string) {
		t.Helper()
		f := filepath.Join(dir, name+".input.json")
		if _, errOut, code := e.run(append([]string{"trace", "--name", e.name, "--record", f, "--timeout", "1s"}, args...)...); code != wantCode {
			t.Errorf("kinn trace %v: exit %d, want %d: %s", args, code, wantCode, errOut)
		}
	}
	record(e, "service-delivered", 0, "client", "svc/web")
	record(e, "service-no-endpoints", 3, "client", "svc/empty")
	record(e, "nodeport-local-dropped", 3, "external", "node/"+clientNode+":30081")
	record(e, "nodeport-external-snat", 0, "external", "node/"+clientNode+":30080")

	c := newEnv(t, "tchr")
	c.up(withPlugins(t, "../../examples/cni-bridge.yaml"))
	for _, p := range c.pods() {
		if p.Name == "hostport" {
			record(c, "chain-hostport", 0, "external", "node/"+p.Spec.NodeName+":8081")
		}
	}
}
