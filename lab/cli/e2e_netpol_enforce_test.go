package cli_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// NetworkPolicy enforcement against real packets, on a two-node lab: a
// server in namespace x on the worker, a client the policy will allow on
// the control plane, and two it will not, one beside the server (bridged
// traffic) and one on the control plane (through the overlay). The full
// upstream matrix is e2e_netpol_test.go's; this one follows one policy's
// life: applied, enforced on pod IP and Service alike, opened for one
// client, repaired after a hand deletion, deleted.

const netpolLab = `kind: Cluster
apiVersion: kinn.dev/v1alpha1
nodes: [{role: control-plane}, {role: worker}]
---
apiVersion: v1
kind: Namespace
metadata: {name: x, labels: {team: x}}
---
apiVersion: v1
kind: Pod
metadata: {name: server, namespace: x, labels: {app: server}}
spec:
  nodeName: kinn-worker
  containers:
  - name: c
    image: registry.k8s.io/e2e-test-images/agnhost:2.53
    args: [netexec, --http-port=8080]
    ports: [{name: http, containerPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: allowed, namespace: x, labels: {app: allowed}}
spec: {nodeName: kinn-control-plane, containers: [{name: c, image: x, args: [pause]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: beside, namespace: x, labels: {app: other}}
spec: {nodeName: kinn-worker, containers: [{name: c, image: x, args: [pause]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: remote, namespace: x, labels: {app: other}}
spec: {nodeName: kinn-control-plane, containers: [{name: c, image: x, args: [pause]}]}
---
apiVersion: v1
kind: Service
metadata: {name: server, namespace: x}
spec:
  selector: {app: server}
  ports: [{port: 80, targetPort: 8080}]
`

const denyIngress = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny-ingress, namespace: x}
spec: {podSelector: {}}
`

const allowFromAllowed = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-allowed, namespace: x}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress: [{from: [{podSelector: {matchLabels: {app: allowed}}}]}]
`

// reach says whether pod's connection to url is answered, by curl inside
// the pod.
func (e *env) reach(pod, url string) bool {
	_, _, code := e.run("exec", "--name", e.name, "-n", "x", pod, "--", "curl", "-sS", "-m", "1", "-o", "/dev/null", url)
	return code == 0
}

// expectReach checks every client against both of the server's addresses,
// within a second (the lab process syncs on every change it is told of).
func (e *env) expectReach(t *testing.T, step string, urls []string, want map[string]bool) {
	t.Helper()
	for client, ok := range want {
		for _, url := range urls {
			got := !ok
			for deadline := time.Now().Add(time.Second); ; {
				if got = e.reach(client, url); got == ok || time.Now().After(deadline) {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if got != ok {
				t.Errorf("%s: %s -> %s: reached=%v, want %v", step, client, url, got, ok)
			}
		}
	}
}

// Ports upstream's "should support a 'default-deny-ingress' policy" and
// "should enforce policy to allow traffic from pods within server
// namespace based on PodSelector", then "should stop enforcing policies
// after they are deleted".
func TestNetworkPolicyEnforced(t *testing.T) {
	e := newEnv(t, "npe")
	f := filepath.Join(t.TempDir(), "netpol.yaml")
	os.WriteFile(f, []byte(netpolLab), 0o644)
	e.up(f)
	var server corev1.Pod
	for _, p := range e.pods() {
		if p.Name == "server" {
			server = p
		}
	}
	var workerNetns string
	for _, n := range e.nodes() {
		if n.Name == server.Spec.NodeName {
			workerNetns = netnsOf(&n)
		}
	}
	urls := []string{"http://" + server.Status.PodIP + ":8080/hostname", "http://" + e.svcIPIn("x", "server") + "/hostname"}
	everyone := map[string]bool{"allowed": true, "beside": true, "remote": true}
	e.expectReach(t, "no policy", urls, everyone)

	e.apply(denyIngress)
	e.expectReach(t, "default-deny-ingress", urls, map[string]bool{"allowed": false, "beside": false, "remote": false})
	// The node itself (the kubelet's probes) is never judged.
	out, err := execIn(workerNetns, "curl", "-sS", "-m", "2", urls[0])
	if err != nil {
		t.Errorf("node %s -> server under default-deny: %v %s", server.Spec.NodeName, err, out)
	}

	e.apply(allowFromAllowed)
	e.expectReach(t, "allow-allowed", urls, map[string]bool{"allowed": true, "beside": false, "remote": false})

	got := e.must("get", "networkpolicies", "-n", "x", "--name", e.name)
	for _, want := range []string{"NAME", "POD-SELECTOR", "allow-allowed", "app=server", "default-deny-ingress", "<none>"} {
		if !strings.Contains(got, want) {
			t.Errorf("get networkpolicies lacks %q:\n%s", want, got)
		}
	}
	if got := e.must("get", "netpol", "-A", "--name", e.name); !strings.HasPrefix(got, "NAMESPACE") {
		t.Errorf("get netpol -A has no NAMESPACE column:\n%s", got)
	}

	// Every change since the first load was an increment: one full load
	// per node.
	if n := strings.Count(e.labLog(), "loaded kinn-netpol"); n != 2 {
		t.Errorf("kinn-netpol loaded in full %d times, want once per node (2): the policy changes were not incremental", n)
	}

	// Deleted by hand: the lab process puts the table back.
	ipn(t, "ip", "netns", "exec", workerNetns, "nft", "delete", "table", "ip", "kinn-netpol")
	time.Sleep(1500 * time.Millisecond)
	if _, err := execIn(workerNetns, "nft", "list", "table", "ip", "kinn-netpol"); err != nil {
		t.Errorf("kinn-netpol not restored after a hand deletion: %v", err)
	}
	e.expectReach(t, "after repair", urls, map[string]bool{"allowed": true, "beside": false, "remote": false})

	e.must("delete", "networkpolicy", "allow-allowed", "-n", "x", "--name", e.name)
	e.must("delete", "networkpolicy", "default-deny-ingress", "-n", "x", "--name", e.name)
	e.expectReach(t, "policies deleted", urls, everyone)

	e.must("down", "--name", e.name)
	e.assertGone()
}

func execIn(netns string, args ...string) (string, error) {
	out, err := exec.Command("ip", append([]string{"netns", "exec", netns}, args...)...).CombinedOutput()
	return string(out), err
}

// With kubeProxyMode none there is no Service proxy, but policies are
// still enforced: the netpol table is no part of the proxy's.
func TestNetworkPolicyWithoutKubeProxy(t *testing.T) {
	e := newEnv(t, "npe")
	f := filepath.Join(t.TempDir(), "netpol.yaml")
	doc := strings.Replace(netpolLab, "nodes: [{role: control-plane}, {role: worker}]\n",
		"nodes: [{role: control-plane}, {role: worker}]\nnetworking: {kubeProxyMode: none}\n", 1)
	os.WriteFile(f, []byte(doc), 0o644)
	e.up(f)
	var url string
	for _, p := range e.pods() {
		if p.Name == "server" {
			url = "http://" + p.Status.PodIP + ":8080/hostname"
		}
	}
	e.expectReach(t, "no policy", []string{url}, map[string]bool{"allowed": true, "beside": true})
	e.apply(denyIngress)
	e.apply(allowFromAllowed)
	e.expectReach(t, "allow-allowed, no kube-proxy", []string{url}, map[string]bool{"allowed": true, "beside": false, "remote": false})
}
