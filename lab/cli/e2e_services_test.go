package cli_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// checkPasses runs `kinn check` until it passes (readiness probes take a
// moment) and fails the test with its table if it never does.
func (e *env) checkPasses() {
	e.t.Helper()
	var out, errOut string
	var code int
	for range 20 {
		out, errOut, code = e.run("check", "--name", e.name)
		if code == 0 {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	e.t.Fatalf("kinn check failed (exit %d):\n%s%s", code, out, errOut)
}

// curl asks a Service from a pod, as a user would with kinn exec and curl.
func (e *env) curl(pod, url string) (string, int) {
	out, _, code := e.run("exec", "--name", e.name, pod, "--", "curl", "-sS", "-m", "2", url)
	return out, code
}

func (e *env) svcIP(name string) string {
	e.t.Helper()
	var s corev1.Service
	if err := json.Unmarshal([]byte(e.must("get", "svc", name, "-o", "json", "--name", e.name)), &s); err != nil {
		e.t.Fatal(err)
	}
	return s.Spec.ClusterIP
}

// backends asks n times and counts the answering pods.
func (e *env) backends(pod, url string, n int) map[string]int {
	got := map[string]int{}
	for range n {
		body, code := e.curl(pod, url)
		if code == 0 {
			got[body]++
		} else {
			got["<error>"]++
		}
	}
	return got
}

func (e *env) apply(doc string) {
	e.t.Helper()
	f := filepath.Join(e.t.TempDir(), "apply.yaml")
	os.WriteFile(f, []byte(doc), 0o644)
	e.must("apply", "--name", e.name, "-f", f)
}

// TestServiceShapes: `kinn check` passes on the default lab and on the
// example with every Service shape, expected failures included.
func TestServiceShapes(t *testing.T) {
	for _, f := range []string{"", "../../examples/services.yaml"} {
		e := newEnv(t, "shapes")
		e.up(f)
		e.checkPasses()
		var res struct {
			Summary struct{ Total, Passed, Failed, ExpectedFailures int }
		}
		out, _, _ := e.run("check", "--name", e.name, "-o", "json")
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("check -o json: %v\n%s", err, out)
		}
		if f != "" && res.Summary.ExpectedFailures == 0 {
			t.Errorf("the shapes lab has Services that must fail; none was checked: %+v", res.Summary)
		}
	}
}

// TestServiceBehaviour walks the user story on the default lab.
func TestServiceBehaviour(t *testing.T) {
	e := newEnv(t, "svc")
	e.up("")
	url := "http://" + e.svcIP("web") + "/hostname"
	if got := e.backends("client", url, 30); len(got) < 2 || got["<error>"] > 0 {
		t.Errorf("30 requests reached %v; want at least 2 backends and no errors", got)
	}
	// Client IP preserved through a ClusterIP.
	var client corev1.Pod
	for _, p := range e.pods() {
		if p.Name == "client" {
			client = p
		}
	}
	if ip, _ := e.curl("client", "http://"+e.svcIP("web")+"/clientip"); !strings.HasPrefix(ip, client.Status.PodIP+":") {
		t.Errorf("/clientip through the ClusterIP = %q, want the client's pod IP %s", ip, client.Status.PodIP)
	}

	// Session affinity: 16 requests, one backend.
	e.apply(`apiVersion: v1
kind: Service
metadata: {name: sticky}
spec:
  selector: {app: web}
  sessionAffinity: ClientIP
  ports: [{port: 80, targetPort: 8080}]
`)
	if got := e.backends("client", "http://"+e.svcIP("sticky")+"/hostname", 16); len(got) != 1 {
		t.Errorf("with ClientIP affinity 16 requests reached %v, want one backend", got)
	}

	// No endpoints: refused, fast.
	e.apply(`apiVersion: v1
kind: Service
metadata: {name: nobody}
spec:
  selector: {app: nobody}
  ports: [{port: 80, targetPort: 8080}]
`)
	start := time.Now()
	_, code := e.curl("client", "http://"+e.svcIP("nobody")+"/")
	if code != 7 { // curl: failed to connect (refused)
		t.Errorf("a Service without endpoints: curl exit %d, want 7 (connection refused)", code)
	}
	if d := time.Since(start); d > time.Second { // kinn exec + curl start included
		t.Errorf("refusal took %v", d)
	}

	// Readiness: an unready pod leaves every answer at once.
	pods := e.backends("client", url, 20)
	var victim string
	for p := range pods {
		if p != "<error>" {
			victim = p
		}
	}
	e.must("ready", "--name", e.name, victim, "false")
	if got := e.backends("client", url, 20); got[victim] > 0 {
		t.Errorf("after kinn ready %s false, it still answered: %v", victim, got)
	}
	e.must("ready", "--name", e.name, victim, "true")

	// Scale down: every request lands on the remaining pod.
	e.must("scale", "--name", e.name, "deployment", "web", "--replicas", "1")
	got := e.backends("client", url, 15)
	if len(got) != 1 || got["<error>"] > 0 {
		t.Fatalf("after scaling to 1, requests reached %v", got)
	}
	// Deleting the Deployment's pod: a replacement comes up at once under a
	// new name and takes the traffic, while the old one terminates.
	var old string
	for p := range got {
		old = p
	}
	e.must("delete", "--name", e.name, "pod", old, "--grace-period", "5")
	var fresh string
	for _, p := range e.pods() {
		if strings.HasPrefix(p.Name, "web-") && p.Name != old {
			fresh = p.Name
		}
	}
	if fresh == "" {
		t.Fatal("no replacement pod after deleting the Deployment's only pod")
	}
	if got := e.backends("client", url, 5); got[fresh] != 5 {
		t.Errorf("the ready replacement %s must take every request: %v", fresh, got)
	}
	var slices struct {
		Items []struct {
			Endpoints []struct {
				TargetRef  struct{ Name string }
				Conditions struct{ Ready, Serving, Terminating bool }
			}
		}
	}
	json.Unmarshal([]byte(e.must("get", "endpointslices", "--name", e.name, "-o", "json")), &slices)
	seen := false
	for _, s := range slices.Items {
		for _, ep := range s.Endpoints {
			if c := ep.Conditions; ep.TargetRef.Name == old {
				seen = true
				if c.Ready || !c.Serving || !c.Terminating {
					t.Errorf("the terminating pod's endpoint: %+v, want ready=false serving=true terminating=true", c)
				}
			}
		}
	}
	if !seen {
		t.Error("the terminating pod left the endpoint slices before its grace period ended")
	}
	// With no ready endpoint left, kube-proxy falls back to the serving,
	// terminating one.
	e.must("ready", "--name", e.name, fresh, "false")
	if got := e.backends("client", url, 5); got[old] != 5 {
		t.Errorf("with the replacement unready, the terminating pod must serve: %v", got)
	}
}

// TestNodePortPolicies: from outside, a NodePort with externalTrafficPolicy
// Local answers only on nodes with an endpoint and sees the external
// address; with Cluster it answers everywhere and sees a node's address.
func TestNodePortPolicies(t *testing.T) {
	e := newEnv(t, "np")
	e.up("../../examples/services.yaml")
	e.checkPasses()
	external := "172.18.0.1"
	for _, n := range e.nodes() {
		ip := n.Status.Addresses[0].Address
		out, _, code := e.run("exec", "--name", e.name, "--external", "--", "curl", "-sS", "-m", "1", "http://"+ip+":30082/clientip")
		hasEndpoint := n.Name == "shapes-worker2"
		switch {
		case hasEndpoint && (code != 0 || !strings.HasPrefix(out, external+":")):
			t.Errorf("Local NodePort on %s (has the endpoint): exit %d, /clientip %q; want the external address", n.Name, code, out)
		case !hasEndpoint && code == 0:
			t.Errorf("Local NodePort on %s (no endpoint) answered %q; it must drop", n.Name, out)
		}
		out, _, code = e.run("exec", "--name", e.name, "--external", "--", "curl", "-sS", "-m", "2", "http://"+ip+":30081/clientip")
		if code != 0 || strings.HasPrefix(out, external+":") {
			t.Errorf("Cluster NodePort on %s: exit %d, /clientip %q; want a node's address", n.Name, code, out)
		}
	}
}

// TestTableRepaired: deleting a node's table by hand is repaired by the lab
// process within seconds.
func TestTableRepaired(t *testing.T) {
	e := newEnv(t, "nft")
	e.up("")
	url := "http://" + e.svcIP("web") + "/hostname"
	var node string
	for _, n := range e.nodes() {
		for _, p := range e.pods() {
			if p.Name == "client" && p.Spec.NodeName == n.Name {
				node = netnsOf(&n)
			}
		}
	}
	loads := func() int {
		log, _ := os.ReadFile(filepath.Join(e.dirs[3], e.name, "lab.log"))
		return strings.Count(string(log), "proxy "+node+": loaded kinn")
	}
	before := loads()
	ipn(t, "ip", "netns", "exec", node, "nft", "delete", "table", "ip", "kinn")
	deadline := time.Now().Add(5 * time.Second)
	for loads() == before {
		if time.Now().After(deadline) {
			t.Fatal("the lab process did not reload the table within 5 s of its deletion")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, code := e.curl("client", url); code != 0 {
		t.Fatalf("the service fails after the table was reloaded: curl exit %d", code)
	}
}

// TestLiveEditErrors: an invalid apply changes nothing and reports every
// problem with FILE:LINE:COL (exit 2); naming what does not exist is one
// clear line and exit 1.
func TestLiveEditErrors(t *testing.T) {
	e := newEnv(t, "edit")
	e.up("")
	before := e.must("get", "svc", "--name", e.name)
	f := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(f, []byte(`apiVersion: v1
kind: Service
metadata: {name: good}
spec:
  selector: {app: web}
  ports: [{port: 81, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: bad}
spec:
  type: NodePort
  ports: [{port: 80, nodePort: 99999}]
  colour: blue
`), 0o644)
	_, errOut, code := e.run("apply", "--name", e.name, "-f", f)
	if code != 2 {
		t.Errorf("invalid apply: exit %d, want 2\n%s", code, errOut)
	}
	for _, want := range []string{f + ":13:", f + ":14:3:"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("invalid apply: no problem reported at %s:\n%s", want, errOut)
		}
	}
	if after := e.must("get", "svc", "--name", e.name); after != before {
		t.Errorf("an invalid apply changed the lab:\n%s\n->\n%s", before, after)
	}
	for _, args := range [][]string{
		{"scale", "deployment", "nope", "--replicas", "2"},
		{"ready", "nope", "false"},
		{"delete", "pod", "nope"},
		{"delete", "svc", "nope"},
		{"exec", "nope", "--", "true"},
	} {
		// --name right after the verb: after "--" it would be the command's.
		_, errOut, code := e.run(append([]string{args[0], "--name", e.name}, args[1:]...)...)
		if code != 1 || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || !strings.Contains(errOut, "nope") {
			t.Errorf("kinn %s: exit %d, stderr %q; want one line naming it and exit 1", strings.Join(args, " "), code, errOut)
		}
	}
}

// TestRunAnnotation: a pod with kinn.dev/run runs that program inside its
// own network namespace, and down stops it.
func TestRunAnnotation(t *testing.T) {
	e := newEnv(t, "run")
	f := filepath.Join(t.TempDir(), "run.yaml")
	os.WriteFile(f, []byte(`kind: Cluster
apiVersion: kinn.dev/v1alpha1
---
apiVersion: v1
kind: Pod
metadata:
  name: sleeper
  annotations: {kinn.dev/run: "sleep 3600"}
spec: {containers: [{name: c, image: x}]}
`), 0o644)
	e.up(f)
	// kinn starts the program through itself (the pod's view of /etc and
	// its hostname), which stays as the init of the program's PID
	// namespace: two processes, kinn and the program.
	var pids []string
	var program string
	for range 20 {
		pids = procsInNetns(t, "kinn."+e.name+".pod.default.sleeper")
		for _, pid := range pids {
			if cmd, _ := os.ReadFile("/proc/" + pid + "/cmdline"); strings.HasPrefix(string(cmd), "sleep\x003600") {
				program = pid
			}
		}
		if program != "" && len(pids) == 2 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if program == "" || len(pids) != 2 {
		t.Fatalf("want kinn and the program in the pod's namespace, found %v (program %q)", pids, program)
	}
	e.must("down", "--name", e.name)
	time.Sleep(100 * time.Millisecond)
	for _, pid := range pids {
		if _, err := os.Stat("/proc/" + pid); err == nil {
			if st, _ := os.ReadFile("/proc/" + pid + "/stat"); !strings.Contains(string(st), ") Z") {
				t.Errorf("down left the pod's program or its init running (pid %s)", pid)
			}
		}
	}
}

// procsInNetns lists the pids whose network namespace is the named one.
func procsInNetns(t *testing.T, netns string) []string {
	want, err := os.Stat("/run/netns/" + netns)
	if err != nil {
		return nil
	}
	ents, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range ents {
		if st, err := os.Stat("/proc/" + e.Name() + "/ns/net"); err == nil && os.SameFile(st, want) && e.Name() != "self" && e.Name() != "thread-self" {
			out = append(out, e.Name())
		}
	}
	return out
}

// TestKubeProxyModeNone: with the proxy switched off, no node has a kinn
// table and a ClusterIP leads nowhere.
func TestKubeProxyModeNone(t *testing.T) {
	e := newEnv(t, "noproxy")
	f := filepath.Join(t.TempDir(), "none.yaml")
	src, _ := os.ReadFile("../../examples/default.yaml")
	doc := strings.Replace(string(src), "  overlay: vxlan", "  overlay: vxlan\n  kubeProxyMode: none", 1)
	if doc == string(src) {
		t.Fatal("could not switch the proxy off in the default topology")
	}
	os.WriteFile(f, []byte(doc), 0o644)
	e.up(f)
	if _, code := e.curl("client", "http://"+e.svcIP("web")+"/hostname"); code == 0 {
		t.Error("a ClusterIP answered with kubeProxyMode none")
	}
	for _, n := range e.nodes() {
		if out, err := exec.Command("ip", "netns", "exec", netnsOf(&n), "nft", "list", "table", "ip", "kinn").CombinedOutput(); err == nil {
			t.Errorf("node %s has a kinn table:\n%s", n.Name, out)
		}
	}
}
