package cli_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"kinn.dev/kinn/lab/cni/cnitest"
)

// TestHungPlugin: a plugin that hangs in ADD for one pod holds `kinn up`
// only as long as cni.timeout; what it started dies with it; the pod's
// error, the call log and its stderr say so.
func TestHungPlugin(t *testing.T) {
	e := newEnv(t, "cnihang")
	bin := cnitest.Link(t, "bridge", "host-local")
	pidFile := filepath.Join(t.TempDir(), "pid")
	script := `#!/bin/sh
case "$CNI_COMMAND:$CNI_ARGS;" in
ADD:*K8S_POD_NAME=hung\;*)
	echo "hanging on purpose" >&2
	sleep 300 &
	echo $! > ` + pidFile + `
	wait;;
esac
exec "$(dirname "$0")/bridge"
`
	os.WriteFile(filepath.Join(bin, "hangs"), []byte(script), 0o755)
	doc := `kind: Cluster
apiVersion: kinn.dev/v1alpha1
nodes: [{role: control-plane}]
cni:
  binDir: ` + bin + `
  timeout: 2s
  confList: |
    {"cniVersion": "1.1.0", "name": "hang-net", "plugins": [
      {"type": "hangs", "bridge": "cni0", "isGateway": true, "mtu": 1450,
       "ipam": {"type": "host-local", "ranges": [[{"subnet": "{{.PodCIDR}}"}]], "routes": [{"dst": "0.0.0.0/0"}]}}]}
---
apiVersion: v1
kind: Pod
metadata: {name: hung}
spec: {containers: [{name: c, image: x, args: [pause]}]}
`
	f := filepath.Join(t.TempDir(), "lab.yaml")
	os.WriteFile(f, []byte(doc), 0o644)
	start := time.Now()
	_, errOut, code := e.run("up", "--name", e.name, "-f", f)
	if took := time.Since(start); took > 60*time.Second {
		t.Errorf("kinn up took %v with a 2s timeout", took)
	}
	if code == 0 || !strings.Contains(errOut, "pod default/hung") || !strings.Contains(errOut, "did not answer within 2s (cni.timeout)") {
		t.Errorf("up should fail naming the pod and the timeout; exit %d:\n%s", code, errOut)
	}
	b, _ := os.ReadFile(pidFile)
	if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err != nil {
		t.Errorf("the plugin wrote no pid: %q", b)
	} else if syscall.Kill(pid, 0) == nil {
		if st, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); !strings.Contains(string(st), ") Z ") {
			t.Errorf("the plugin's child %d outlived the timeout", pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	out := e.must("cni", "log", "hung", "--name", e.name)
	if !strings.Contains(out, "timed out: plugin hangs did not answer") || !strings.Contains(out, "      hanging on purpose\n") {
		t.Errorf("cni log lacks the timeout or the plugin's stderr:\n%s", out)
	}
}
