package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kinn.dev/kinn/lab/cni/cnitest"
)

// flannelConfList is kube-flannel's cni-conf.json, as its manifest ships it.
const flannelConfList = `{"name":"cbr0","cniVersion":"0.3.1","plugins":[{"type":"flannel","delegate":{"hairpinMode":true,"isDefaultGateway":true}},{"type":"portmap","capabilities":{"portMappings":true}}]}`

// TestFlannelStockConfList: flannel's own plugin, built from its source,
// attaches pods with kube-flannel's conflist unchanged: it reads each
// node's subnet.env at /run/flannel and delegates to bridge and host-local,
// which keep their files in the node's /var/lib/cni. The whole `kinn check`
// passes over kinn's overlay, and nothing appears in the host's /run or
// /var/lib.
func TestFlannelStockConfList(t *testing.T) {
	for _, p := range []string{"/run/flannel", "/var/lib/cni/flannel", "/var/lib/cni/networks/cbr0"} {
		if _, err := os.Stat(p); err == nil {
			t.Skipf("%s exists on this host: the test could not tell its own files from it", p)
		}
	}
	e := newEnv(t, "cnifl")
	bin := cnitest.Link(t, "flannel", "bridge", "host-local", "portmap")
	e.upWithHostPort(t, bin, `'`+flannelConfList+`'`, "networking: {disableDefaultCNI: true}")
	e.checkPasses()
	e.checkHostPort("flannel")
	env, err := os.ReadFile(filepath.Join(e.dirs[1], e.name, "cni", "kinn-worker", "run", "flannel", "subnet.env"))
	if err != nil || !strings.Contains(string(env), "FLANNEL_SUBNET=10.244.1.1/24\n") {
		t.Errorf("the worker's subnet.env: %v\n%s", err, env)
	}
	if got := e.reservations("kinn-worker", "cbr0"); len(got) == 0 {
		t.Errorf("flannel's delegate host-local reserved nothing in the worker's own directory")
	}
	for _, p := range []string{"/run/flannel", "/var/lib/cni/flannel", "/var/lib/cni/networks/cbr0"} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("a plugin wrote %s on the host", p)
		}
	}
	e.must("down", "--name", e.name)
}

// upWithHostPort brings up a two-node lab whose chain is confList (a YAML
// value) from bin, with a hostPort pod on the worker and webAndClient.
func (e *env) upWithHostPort(t *testing.T, bin, confList string, extra ...string) {
	t.Helper()
	doc := "kind: Cluster\napiVersion: kinn.dev/v1alpha1\nnodes: [{role: control-plane}, {role: worker}]\n" + strings.Join(extra, "\n") +
		"\ncni:\n  binDir: " + bin + "\n  confList: " + confList + `
---
apiVersion: v1
kind: Pod
metadata: {name: hostport}
spec: {nodeName: kinn-worker, containers: [{name: c, image: x, args: [netexec, --http-port=8080], ports: [{containerPort: 8080, hostPort: 8081}]}]}
` + webAndClient
	f := filepath.Join(t.TempDir(), "lab.yaml")
	os.WriteFile(f, []byte(doc), 0o644)
	e.up(f)
}

// checkHostPort: the hostPort of upWithHostPort's pod answers on the worker
// through portmap chained after the first plugin.
func (e *env) checkHostPort(first string) {
	e.t.Helper()
	worker := e.nodes()[1].Status.Addresses[0].Address
	if body, code := e.curl("client", "http://"+worker+":8081/hostname"); code != 0 || body != "hostport" {
		e.t.Errorf("hostPort through portmap chained after %s answered %q (exit %d)", first, body, code)
	}
}
