package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kinn.dev/kinn/lab"
	"kinn.dev/kinn/lab/check"
	"kinn.dev/kinn/lab/cni/cnitest"
	"kinn.dev/kinn/tui"
)

// withPlugins copies an example that uses `binDir: cni-bin` into a
// directory of the test's, next to a cni-bin holding the reference plugins
// built from their module, so the example runs exactly as written.
func withPlugins(t *testing.T, example string) string {
	t.Helper()
	src, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Symlink(cnitest.Plugins(t), filepath.Join(dir, "cni-bin")); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, filepath.Base(example))
	if err := os.WriteFile(f, src, 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// reservations lists host-local's reserved addresses on a node of e's lab.
func (e *env) reservations(node, network string) []string {
	e.t.Helper()
	entries, _ := os.ReadDir(filepath.Join(e.dirs[1], e.name, "cni", node, "networks", network))
	var out []string
	for _, en := range entries {
		if n := en.Name(); n != "lock" && !strings.HasPrefix(n, "last_reserved_ip") {
			out = append(out, n)
		}
	}
	return out
}

// TestReferencePlugins: the bridge + host-local + portmap example passes the
// whole `kinn check`, a hostPort answers on its node, a deleted pod frees
// its reservation, reattach hands out new addresses that the Services
// follow, and down leaves no reservation or cache file anywhere.
func TestReferencePlugins(t *testing.T) {
	e := newEnv(t, "cnib")
	f := withPlugins(t, "../../examples/cni-bridge.yaml")
	e.up(f)
	e.checkPasses()
	var node, ip string
	for _, p := range e.pods() {
		if p.Name == "hostport" {
			node, ip = p.Spec.NodeName, p.Status.PodIP
		}
	}
	if got := e.reservations(node, "bridge-net"); !strings.Contains(strings.Join(got, " "), ip) {
		t.Fatalf("host-local on %s holds %v, not the hostport pod's %s", node, got, ip)
	}
	nodeIP := ""
	for _, n := range e.nodes() {
		if n.Name == node {
			nodeIP = n.Status.Addresses[0].Address
		}
	}
	if body, code := e.curl("client", "http://"+nodeIP+":8081/hostname"); code != 0 || body != "hostport" {
		t.Errorf("hostPort 8081 on %s answered %q (exit %d), want the hostport pod", nodeIP, body, code)
	}

	e.must("delete", "pod", "hostport", "--grace-period", "0", "--name", e.name)
	deadline := time.Now().Add(10 * time.Second)
	for strings.Contains(strings.Join(e.reservations(node, "bridge-net"), " "), ip) {
		if time.Now().After(deadline) {
			t.Fatalf("deleting the pod did not free %s: host-local still holds %v", ip, e.reservations(node, "bridge-net"))
		}
		time.Sleep(200 * time.Millisecond)
	}

	e.apply("apiVersion: v1\nkind: Pod\nmetadata: {name: prog, annotations: {kinn.dev/run: \"sleep 3600\"}}\nspec: {containers: [{name: c, image: x}]}\n")
	out := e.must("cni", "reattach", "--all", "--name", e.name)
	if !strings.Contains(out, "address changed") {
		t.Errorf("host-local hands out the next free address, so reattach should move pods:\n%s", out)
	}
	// A running program's /etc/hosts follows its pod's new address.
	pids := procsInNetns(t, "kinn."+e.name+".pod.default.prog")
	newIP := e.podIP("prog")
	for i := 0; len(pids) > 0 && i < 20; i++ {
		if hosts, _ := os.ReadFile("/proc/" + pids[0] + "/root/etc/hosts"); strings.Contains(string(hosts), newIP+"\tprog") {
			break
		}
		if i == 19 {
			hosts, _ := os.ReadFile("/proc/" + pids[0] + "/root/etc/hosts")
			t.Errorf("the program's /etc/hosts lacks its new address %s:\n%s", newIP, hosts)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(pids) == 0 {
		t.Errorf("no program runs in pod prog")
	}
	e.checkPasses()
	if out := e.must("cni", "check", "--name", e.name); strings.Count(out, " ok\n") != len(e.pods()) {
		t.Errorf("CNI CHECK after reattach:\n%s", out)
	}

	state := filepath.Join(e.dirs[1], e.name)
	e.must("down", "--name", e.name)
	for _, p := range []string{state, "/var/lib/cni/networks/bridge-net", "/var/lib/cni/results"} {
		if _, err := os.Stat(p); err == nil && (p == state || !existedBefore[p]) {
			t.Errorf("down left %s behind", p)
		}
	}
}

// existedBefore notes host paths that were there before any test ran: the
// test only blames kinn for what is new.
var existedBefore = func() map[string]bool {
	m := map[string]bool{}
	for _, p := range []string{"/var/lib/cni/networks/bridge-net", "/var/lib/cni/results"} {
		if _, err := os.Stat(p); err == nil {
			m[p] = true
		}
	}
	return m
}()

// TestPTPPlugins: ptp + host-local, routed host-gw between nodes; the
// terminal UI's traffic view finds the pods' links by the names ptp gave.
func TestPTPPlugins(t *testing.T) {
	e := newEnv(t, "cnip")
	e.up(withPlugins(t, "../../examples/cni-ptp.yaml"))
	e.checkPasses()
	src := tui.NewLive(lab.Options{StateRoot: e.dirs[1], RuntimeRoot: e.dirs[3]}, e.name)
	defer src.Close()
	rates, err := src.Rates(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	pods := 0
	for _, r := range rates {
		if r.Kind == "pod" {
			pods++
		}
	}
	if want := len(e.pods()); pods != want {
		t.Errorf("the traffic view has %d pod links, want %d: %+v", pods, want, rates)
	}
}

// TestKinnPluginAsBinary: kinn's plugin named in a conflist as any other
// binary (kinn-cni, found in binDir and run out of process) passes the
// same run, and chains: portmap after it gets its result as prevResult.
func TestKinnPluginAsBinary(t *testing.T) {
	e := newEnv(t, "cnik")
	bin := cnitest.Link(t, "portmap")
	if err := os.Symlink(kinnBin, filepath.Join(bin, "kinn-cni")); err != nil {
		t.Fatal(err)
	}
	e.upWithHostPort(t, bin, `|
    {"cniVersion": "1.1.0", "name": "kinn-ext", "plugins": [
      {"type": "kinn-cni", "bridge": "kinn0", "subnet": "{{.PodCIDR}}", "mtu": 1450, "capabilities": {"ips": true}},
      {"type": "portmap", "capabilities": {"portMappings": true}}]}`)
	e.checkPasses()
	e.checkHostPort("kinn-cni")
	out := e.must("cni", "log", "--name", e.name)
	if !strings.Contains(out, "kinn-cni") || !strings.Contains(out, "ADD") {
		t.Errorf("the log shows no ADD by the kinn-cni binary:\n%s", out)
	}
}

// TestFailingPlugin: a plugin that refuses some pods on purpose leaves them
// failed with the plugin's own message, and the rest of the lab works; but
// `kinn check` fails, naming them, and a Service whose only pod failed is
// no expected refusal. Edits of other objects go on with a warning. A
// failing STATUS makes the nodes NotReady, in the kubelet's words.
func TestFailingPlugin(t *testing.T) {
	e := newEnv(t, "cnif")
	bin := cnitest.Link(t, "bridge", "host-local")
	script := `#!/bin/sh
dir=$(dirname "$0")
case "$CNI_COMMAND:$CNI_ARGS;" in
STATUS:*)
	if [ -e "$dir/status-fails" ]; then
		echo '{"cniVersion": "1.1.0", "code": 50, "msg": "plugin not available", "details": "on purpose"}'
		exit 1
	fi;;
ADD:*K8S_POD_NAME=doomed*)
	echo '{"cniVersion": "1.1.0", "code": 999, "msg": "doomed pods are refused", "details": "on purpose"}'
	exit 1;;
ADD:*MODE=refuse*)
	echo '{"cniVersion": "1.1.0", "code": 998, "msg": "MODE=refuse", "details": "on purpose"}'
	exit 1;;
esac
exec "$dir/bridge"
`
	os.WriteFile(filepath.Join(bin, "picky"), []byte(script), 0o755)
	doc := `kind: Cluster
apiVersion: kinn.dev/v1alpha1
nodes: [{role: control-plane}, {role: worker}]
cni:
  binDir: ` + bin + `
  confList: |
    {"cniVersion": "1.1.0", "name": "picky-net", "plugins": [
      {"type": "picky", "bridge": "cni0", "isGateway": true, "hairpinMode": true, "mtu": 1450,
       "ipam": {"type": "host-local", "ranges": [[{"subnet": "{{.PodCIDR}}"}]], "routes": [{"dst": "0.0.0.0/0"}]}}]}
---
apiVersion: v1
kind: Pod
metadata: {name: doomed, labels: {app: web, role: doomed}}
spec: {containers: [{name: c, image: x, args: [netexec, --http-port=8080]}]}
---
apiVersion: v1
kind: Service
metadata: {name: lonely}
spec: {selector: {role: doomed}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: nobody}
spec: {selector: {app: nobody}, ports: [{port: 80, targetPort: 8080}]}
` + webAndClient
	f := filepath.Join(t.TempDir(), "lab.yaml")
	os.WriteFile(f, []byte(doc), 0o644)
	_, errOut, code := e.run("up", "--name", e.name, "-f", f)
	if code == 0 || !strings.Contains(errOut, "pod default/doomed") || !strings.Contains(errOut, "doomed pods are refused") {
		t.Errorf("up should fail naming the pod and the plugin's message; exit %d:\n%s", code, errOut)
	}
	out := e.must("get", "pods", "-o", "wide", "--name", e.name)
	if !strings.Contains(out, "FailedCreatePodSandBox") || !strings.Contains(out, "doomed pods are refused") {
		t.Errorf("get pods does not show the failed pod and why:\n%s", out)
	}
	if f := strings.Fields(lineWith(out, "doomed ")); len(f) < 7 || f[3] != "<none>" || f[5] != "<none>" || f[6] != "<none>" {
		line := strings.Join(f, " ")
		t.Errorf("a pod without a sandbox shows an address, a namespace or a host interface:\n%s", line)
	}
	e.checkFailsFor("default/doomed", "default/lonely")
	if out := e.must("cni", "log", "doomed", "--name", e.name); !strings.Contains(out, "error 999: doomed pods are refused on purpose") {
		t.Errorf("cni log lacks the plugin's error:\n%s", out)
	}

	// Edits of other objects succeed, warning about the failed pod.
	web := ""
	for _, p := range e.pods() {
		if strings.HasPrefix(p.Name, "web-") {
			web = p.Name
		}
	}
	for _, args := range [][]string{{"delete", "pod", web, "--grace-period", "0"}, {"scale", "deployment", "web", "--replicas", "3"}} {
		_, errOut, code := e.run(append(args, "--name", e.name)...)
		if code != 0 || !strings.Contains(errOut, "warning: pod default/doomed on ") {
			t.Errorf("kinn %s: exit %d, want 0 and a warning about doomed:\n%s", strings.Join(args, " "), code, errOut)
		}
	}
	if out := e.must("get", "pods", "--name", e.name); strings.Contains(out, web+" ") {
		t.Errorf("the deleted pod %s is still listed:\n%s", web, out)
	}
	// An edit whose own pod fails does fail.
	f = filepath.Join(t.TempDir(), "apply.yaml")
	os.WriteFile(f, []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: doomed-too}\nspec: {containers: [{name: c, image: x}]}\n"), 0o644)
	if _, errOut, code := e.run("apply", "-f", f, "--name", e.name); code == 0 || !strings.Contains(errOut, "default/doomed-too") {
		t.Errorf("apply of a pod the plugin refuses: exit %d, want 1 naming it:\n%s", code, errOut)
	}

	// An edit that changes a failed pod retries it: the fix applies.
	fixable := "apiVersion: v1\nkind: Pod\nmetadata: {name: fixable%s}\nspec: {containers: [{name: c, image: x}]}\n"
	os.WriteFile(f, []byte(fmt.Sprintf(fixable, `, annotations: {kinn.dev/cni-args: "MODE=refuse"}`)), 0o644)
	if _, errOut, code := e.run("apply", "-f", f, "--name", e.name); code == 0 || !strings.Contains(errOut, "MODE=refuse") {
		t.Errorf("apply of a pod whose annotation the plugin refuses: exit %d, want 1:\n%s", code, errOut)
	}
	os.WriteFile(f, []byte(fmt.Sprintf(fixable, "")), 0o644)
	if _, errOut, code := e.run("apply", "-f", f, "--name", e.name); code != 0 || !strings.Contains(lineWith(e.must("get", "pods", "--name", e.name), "fixable "), "Running") {
		t.Errorf("apply of the fixed pod: exit %d, want 0 and the pod running:\n%s", code, errOut)
	}

	// STATUS fails: the nodes are NotReady, with the plugin's message.
	os.WriteFile(filepath.Join(bin, "status-fails"), nil, 0o644)
	if _, errOut, code := e.run("up", "--name", e.name); code == 0 || !strings.Contains(errOut, "network is not ready") {
		t.Errorf("up with STATUS failing: exit %d, want 1 and the failed pods' reason:\n%s", code, errOut)
	}
	out = e.must("get", "nodes", "--name", e.name)
	if strings.Count(out, " NotReady ") != 2 || !strings.Contains(out, "NetworkPluginNotReady message:Network plugin returns error: plugin not available") {
		t.Errorf("get nodes with STATUS failing:\n%s", out)
	}
	for _, n := range e.nodes() {
		if c := n.Status.Conditions[0]; c.Status != "False" || c.Reason != "KubeletNotReady" || !strings.Contains(c.Message, "plugin not available") {
			t.Errorf("node %s: Ready condition %+v", n.Name, c)
		}
	}
	src := tui.NewLive(lab.Options{StateRoot: e.dirs[1], RuntimeRoot: e.dirs[3]}, e.name)
	defer src.Close()
	snap, err := src.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range snap.Nodes {
		if n.Ready || !strings.Contains(n.Reason, "plugin not available") {
			t.Errorf("the terminal UI's node %s: ready %v, reason %q", n.Name, n.Ready, n.Reason)
		}
	}
}

// lineWith is the first line of out that contains s.
func lineWith(out, s string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

// checkFailsFor runs `kinn check` until it has settled (the lab process
// reloads after an up) and wants it to fail for the pods named, with their
// own cells, and for the Services named, because those pods are down: and
// for nothing else.
func (e *env) checkFailsFor(pod, svc string) {
	e.t.Helper()
	var res struct {
		Cells []check.Cell
	}
	var bad []string
	_, svcName, _ := strings.Cut(svc, "/")
	for range 5 {
		out, _, code := e.run("check", "-o", "json", "--name", e.name)
		if err := json.Unmarshal([]byte(out), &res); err != nil || code != 1 {
			e.t.Fatalf("kinn check: exit %d, want 1: %v\n%s", code, err, out)
		}
		bad = nil
		own, service := false, false
		for _, c := range res.Cells {
			switch {
			case c.Passed:
			case c.From == pod && c.Proto == check.ProtoSandbox && strings.Contains(c.Detail, "doomed pods are refused"):
				own = true
			case (strings.HasPrefix(c.To, svc+":") || strings.HasPrefix(c.To, svcName+".")) && strings.Contains(c.Detail, "endpoints not running: "+pod):
				service = true
			default:
				bad = append(bad, fmt.Sprintf("%+v", c))
			}
		}
		if len(bad) == 0 && own && service {
			return
		}
		// Long enough for the kernel's per-source budget of ICMP errors
		// (one a second, a burst of 6), by which refusals come back.
		time.Sleep(3 * time.Second)
	}
	e.t.Fatalf("kinn check does not fail for %s and %s alone: %d other failures:\n%s", pod, svc, len(bad), strings.Join(bad, "\n"))
}

// webAndClient is a Deployment behind a Service and a client pod.
const webAndClient = `---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: x, args: [netexec, --http-port=8080], ports: [{containerPort: 8080}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec: {containers: [{name: c, image: x, args: [pause]}]}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
`

// TestChainConfigErrors: a chain that cannot work is reported before
// anything exists, naming the place, the plugin and what to change.
func TestChainConfigErrors(t *testing.T) {
	e := newEnv(t, "cnie")
	bin := cnitest.Link(t, "bridge")
	dir := filepath.Dir(bin) // the lab file sits next to bin, which it names relatively
	head := "kind: Cluster\napiVersion: kinn.dev/v1alpha1\ncni:\n  binDir: \"" + filepath.Base(bin) + "\"\n  confList: "
	for _, tc := range []struct{ list, want string }{
		{`'{"cniVersion": "1.1.0", "name": "n", "plugins": [{"type": "bridge"}, {"type": "tuning"}]}'`,
			`lab.yaml:5:13 (cni.confList): plugin "tuning": no executable tuning in binDir ` + bin},
		{`'{"cniVersion": "1.1.0", "name": "n", "plugins": [{"type": "bridge"}'`, "lab.yaml:5:13 (cni.confList): does not parse as JSON"},
		{`'{"cniVersion": "2.0.0", "name": "n", "plugins": [{"type": "bridge"}]}'`, `plugin "bridge" speaks CNI`},
		{`missing.conflist`, "cannot read the configuration list"},
	} {
		f := filepath.Join(dir, "lab.yaml")
		os.WriteFile(f, []byte(head+tc.list+"\n"), 0o644)
		_, errOut, code := e.run("up", "--name", e.name, "-f", f)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("confList %s: exit %d, want 2 and %q in:\n%s", tc.list, code, tc.want, errOut)
		}
		if _, err := os.Stat(filepath.Join(e.dirs[1], e.name)); err == nil {
			t.Errorf("confList %s: the lab's state was created", tc.list)
		}
		if _, err := os.Stat(filepath.Join(e.dirs[3], e.name)); err == nil {
			t.Errorf("confList %s: the lab's runtime directory was created", tc.list)
		}
	}
}
