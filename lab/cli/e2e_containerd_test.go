package cli_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"kinn.dev/kinn/lab/cni/cnitest"
)

// What containerd does for the plugins, tried with the reference plugins.

// chainLab writes a one-node lab with the given conflist (its plugins in
// bin) and pods, and returns the file.
func chainLab(t *testing.T, bin, confList, pods string) string {
	t.Helper()
	doc := `kind: Cluster
apiVersion: kinn.dev/v1alpha1
nodes: [{role: control-plane}]
cni:
  binDir: ` + bin + `
  confList: |
    ` + confList + `
` + pods
	f := filepath.Join(t.TempDir(), "lab.yaml")
	if err := os.WriteFile(f, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// bridgeNet is the reference bridge with host-local, as a chain's first
// plugin.
const bridgeNet = `{"type": "bridge", "bridge": "cni0", "isGateway": true, "mtu": 1450,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "{{.PodCIDR}}"}]], "routes": [{"dst": "0.0.0.0/0"}]}}`

// TestTeardownOrder: sbr, which locks the pod's namespace path at DEL, is
// DELeted while the namespace exists, on a deleted pod and on down; down
// prints no warning and no plain file is left where a namespace was.
func TestTeardownOrder(t *testing.T) {
	e := newEnv(t, "cntd")
	bin := cnitest.Link(t, "bridge", "host-local")
	os.Symlink(filepath.Join(cnitest.Plugins(t), "sbr"), filepath.Join(bin, "sbr-real"))
	dels := filepath.Join(t.TempDir(), "dels")
	// sbr as the chain names it: notes what CNI_NETNS is at DEL (a
	// namespace is an nsfs mount), then runs the real one.
	os.WriteFile(filepath.Join(bin, "sbr"), []byte(`#!/bin/sh
if [ "$CNI_COMMAND" = DEL ]; then
	echo "$CNI_CONTAINERID $(stat -f -c %T "$CNI_NETNS" 2>/dev/null || echo gone)" >> `+dels+`
fi
exec "$(dirname "$0")/sbr-real"
`), 0o755)
	f := chainLab(t, bin, `{"cniVersion": "1.0.0", "name": "sbr-net", "plugins": [`+bridgeNet+`, {"type": "sbr"}]}`,
		"---\napiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, image: x}]}\n")
	e.up(f)
	path := "/run/netns/kinn." + e.name + ".pod.default.a"
	e.must("delete", "pod", "a", "--grace-period", "0", "--name", e.name)
	deadline := time.Now().Add(10 * time.Second)
	for b, _ := os.ReadFile(dels); len(b) == 0; b, _ = os.ReadFile(dels) {
		if time.Now().After(deadline) {
			t.Fatal("deleting pod a sent no DEL to sbr")
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // the namespace goes right after DEL
	if _, err := os.Lstat(path); err == nil {
		t.Errorf("%s is still there after the pod was deleted", path)
	}
	_, errOut, code := e.run("down", "--name", e.name)
	if code != 0 || strings.Contains(errOut, "warning") {
		t.Errorf("down: exit %d, want 0 and no warning:\n%s", code, errOut)
	}
	b, _ := os.ReadFile(dels)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) < 3 { // pod a and the two DNS pods
		t.Errorf("sbr got %d DELs, want one per pod:\n%s", len(lines), b)
	}
	for _, l := range lines {
		if !strings.HasSuffix(l, " nsfs") {
			t.Errorf("a DEL ran without the pod's namespace (%s); containerd DELs before removing it", l)
		}
	}
}

// recorder is a plugin, first in a chain, that writes each call's
// environment and stdin to dir/COMMAND-CONTAINERID and answers an empty
// result: what the runtime passes, seen from a plugin.
func recorder(t *testing.T, bin, dir string) {
	t.Helper()
	script := `#!/bin/sh
if [ "$CNI_COMMAND" = VERSION ]; then
	echo '{"cniVersion": "1.1.0", "supportedVersions": ["1.0.0", "1.1.0"]}'; exit 0
fi
f=` + dir + `/$CNI_COMMAND-$CNI_CONTAINERID
env | grep '^CNI_' > $f.env
cat > $f.json
[ "$CNI_COMMAND" = ADD ] && echo '{"cniVersion": "1.1.0"}'
exit 0
`
	if err := os.WriteFile(filepath.Join(bin, "recorder"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
}

// recorded is what the recorder got at ADD for the pod named name.
func recorded(t *testing.T, dir, name string) (env string, conf map[string]any) {
	t.Helper()
	envs, _ := filepath.Glob(filepath.Join(dir, "ADD-*.env"))
	for _, f := range envs {
		b, _ := os.ReadFile(f)
		if strings.Contains(string(b), "K8S_POD_NAME="+name+";") {
			j, _ := os.ReadFile(strings.TrimSuffix(f, ".env") + ".json")
			if err := json.Unmarshal(j, &conf); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			return string(b), conf
		}
	}
	t.Fatalf("no ADD recorded for pod %s", name)
	return "", nil
}

// TestCapabilitiesAndArgs: a plugin gets the capabilities and CNI_ARGS
// containerd passes (bandwidth in bits/s with containerd's burst, dns, the
// pod's annotations) plus kinn's mac and extra CNI_ARGS; a capability kinn
// does not supply is warned of; bad annotations stop up before anything;
// an edited cni block under running pods is reported until reattach.
func TestCapabilitiesAndArgs(t *testing.T) {
	e := newEnv(t, "ccap")
	bin := cnitest.Link(t, "bridge", "host-local")
	dir := t.TempDir()
	recorder(t, bin, dir)
	conf := func(extra string) string {
		return `{"cniVersion": "1.1.0", "name": "rec", "plugins": [{"type": "recorder"` + extra + `, "capabilities": {"bandwidth": true,
      "dns": true, "mac": true, "io.kubernetes.cri.pod-annotations": true, "infinibandGUID": true}}, ` + bridgeNet + `]}`
	}
	pod := func(args string) string {
		return `---
apiVersion: v1
kind: Pod
metadata:
  name: tagged
  annotations: {kubernetes.io/egress-bandwidth: 10M, kubernetes.io/ingress-bandwidth: 1500k, kinn.dev/mac: "02:42:0a:00:00:07",
    kinn.dev/cni-args: "` + args + `"}
spec: {containers: [{name: c, image: x}]}
`
	}
	bad := chainLab(t, bin, conf(""), pod("K8S_POD_NAME=evil;NOEQUALS"))
	if _, errOut, code := e.run("up", "--name", e.name, "-f", bad); code != 2 ||
		!strings.Contains(errOut, "pod default/tagged") || !strings.Contains(errOut, "K8S_POD_NAME is set by the runtime") || !strings.Contains(errOut, `"NOEQUALS" has no =`) {
		t.Errorf("bad kinn.dev/cni-args: exit %d, want 2 naming the pod and both problems:\n%s", code, errOut)
	}
	f := chainLab(t, bin, conf(""), pod("FOO=bar;BAZ=1"))
	_, errOut, code := e.run("up", "--name", e.name, "-f", f)
	if code != 0 || !strings.Contains(errOut, `plugin "recorder" declares the capability "infinibandGUID", which kinn does not supply`) {
		t.Errorf("up: exit %d, want 0 and a warning about infinibandGUID:\n%s", code, errOut)
	}
	env, got := recorded(t, dir, "tagged")
	if !strings.Contains(env, "K8S_POD_NAMESPACE=default;K8S_POD_NAME=tagged;") || !strings.Contains(env, ";FOO=bar;BAZ=1\n") {
		t.Errorf("CNI_ARGS lack the pod's identity or kinn.dev/cni-args:\n%s", env)
	}
	rc, _ := got["runtimeConfig"].(map[string]any)
	js := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	for key, want := range map[string]string{
		"bandwidth": `{"egressBurst":4294967295,"egressRate":10000000,"ingressBurst":4294967295,"ingressRate":1500000}`,
		"mac":       `"02:42:0a:00:00:07"`,
		"dns":       `{"options":["ndots:5"],"searches":["default.svc.cluster.local","svc.cluster.local","cluster.local"],"servers":["` + e.svcIPIn("kube-system", "kube-dns") + `"]}`,
	} {
		if g := js(rc[key]); g != want {
			t.Errorf("runtimeConfig.%s = %s, want %s", key, g, want)
		}
	}
	if ann, _ := rc["io.kubernetes.cri.pod-annotations"].(map[string]any); ann["kinn.dev/cni-args"] != "FOO=bar;BAZ=1" {
		t.Errorf("runtimeConfig has not the pod's annotations: %s", js(rc))
	}

	// The cni block changes under running pods: up says so, and what to do.
	f2 := chainLab(t, bin, conf(`, "note": "v2"`), pod("FOO=bar;BAZ=1"))
	_, errOut, code = e.run("up", "--name", e.name, "-f", f2, "--yes")
	if code != 0 || !strings.Contains(errOut, "running pods still use the previous cni configuration") || !strings.Contains(errOut, "kinn cni reattach --all --name "+e.name) {
		t.Errorf("up of an edited cni block: exit %d, want 0 and a warning naming `kinn cni reattach --all`:\n%s", code, errOut)
	}
	e.must("cni", "reattach", "--all", "--name", e.name)
	if _, errOut, _ := e.run("up", "--name", e.name); strings.Contains(errOut, "previous cni configuration") {
		t.Errorf("after reattach, up still warns:\n%s", errOut)
	}
}

// svcIPIn is the ClusterIP of Service ns/name.
func (e *env) svcIPIn(ns, name string) string {
	e.t.Helper()
	var s struct {
		Spec struct{ ClusterIP string }
	}
	json.Unmarshal([]byte(e.must("get", "svc", name, "-n", ns, "-o", "json", "--name", e.name)), &s)
	return s.Spec.ClusterIP
}

// sinkServer counts what one connection brings on port 9000 and prints the
// steady rate in Mbit/s: over the second after the rate first fell below 40
// Mbit/s (a shaped sender), else over the second after 2 s of sending. The
// burst of 2^32-1 bits containerd asks for becomes ~185 MB that the
// reference plugin's tbf lets through unshaped first.
const sinkServer = `
import bisect, socket, time
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("", 9000)); l.listen(1); l.settimeout(20)
c, _ = l.accept(); c.settimeout(5)
start = time.time()
times, totals, total, steady = [start], [0], 0, None
while True:
    b = c.recv(1 << 20)
    if not b: break
    now = time.time(); total += len(b); times.append(now); totals.append(total)
    i = bisect.bisect_left(times, now - 0.25)
    if steady is None and now - start > 0.5 and (total - totals[i]) * 8 / 0.25 < 40e6: steady = now
    if steady is None and now - start > 2: steady = now
    if now - steady > 1 if steady else False: break
i = bisect.bisect_left(times, now - 1)
print("%.1f" % ((total - totals[i]) * 8 / (now - times[i]) / 1e6))
`

// sinkClient sends as fast as it can to the sink until it hangs up.
const sinkClient = `
import socket, sys, time
for i in range(50):
    try: s = socket.create_connection((sys.argv[1], 9000)); break
    except OSError: time.sleep(0.1)
buf = b"x" * 65536
try:
    while True: s.sendall(buf)
except OSError: pass
`

// rateFrom measures the steady rate from pod src to the sink pod.
func (e *env) rateFrom(src, sinkIP string) float64 {
	e.t.Helper()
	var out string
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		out, _, _ = e.run("exec", "--name", e.name, "sink", "--", "python3", "-c", sinkServer)
	}()
	time.Sleep(300 * time.Millisecond)
	e.run("exec", "--name", e.name, src, "--", "python3", "-c", sinkClient, sinkIP)
	wg.Wait()
	r, err := strconv.ParseFloat(strings.TrimSpace(out), 64)
	if err != nil {
		e.t.Fatalf("sink from %s printed %q", src, out)
	}
	return r
}

// TestBandwidthShapes: the egress-bandwidth annotation, through the
// bandwidth capability and the reference bandwidth plugin, holds a pod's
// sending rate near 10 Mbit/s, while a pod without it sends far faster.
func TestBandwidthShapes(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("needs python3 for the transfer")
	}
	e := newEnv(t, "cbw")
	bin := cnitest.Link(t, "bridge", "host-local", "bandwidth")
	pods := ""
	for _, p := range []string{"slow", "fast", "sink"} {
		ann := ""
		if p == "slow" {
			ann = ", annotations: {kubernetes.io/egress-bandwidth: 10M}"
		}
		pods += "---\napiVersion: v1\nkind: Pod\nmetadata: {name: " + p + ann + "}\nspec: {containers: [{name: c, image: x}]}\n"
	}
	e.up(chainLab(t, bin, `{"cniVersion": "1.1.0", "name": "bw", "plugins": [`+bridgeNet+`,
     {"type": "bandwidth", "capabilities": {"bandwidth": true}}]}`, pods))
	sink := e.podIP("sink")
	t0 := time.Now()
	slow := e.rateFrom("slow", sink)
	t1 := time.Now()
	fast := e.rateFrom("fast", sink)
	t.Logf("transfers took %v and %v", t1.Sub(t0), time.Since(t1))
	t.Logf("steady rate: annotated 10M %.1f Mbit/s, unannotated %.1f Mbit/s", slow, fast)
	if slow < 7 || slow > 13 {
		t.Errorf("the pod annotated egress 10M sends at %.1f Mbit/s, want about 10", slow)
	}
	if fast < 10*slow {
		t.Errorf("the unannotated pod sends at %.1f Mbit/s, not far above the shaped %.1f", fast, slow)
	}
}
