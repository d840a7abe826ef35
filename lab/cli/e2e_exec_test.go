package cli_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestExecOwnSysfs: `kinn exec` shows the target's own /sys, as `ip netns
// exec` does: a pod's /sys/class/net lists its lo and eth0, a node's and
// the outside's their own links, never the host's; and the host's mounts
// are what they were. `get pods -o wide` names each pod's link in its node,
// and that link is the peer of the pod's eth0.
func TestExecOwnSysfs(t *testing.T) {
	e := newEnv(t, "hsys")
	f := filepath.Join(t.TempDir(), "lab.yaml")
	os.WriteFile(f, []byte(`kind: Cluster
apiVersion: kinn.dev/v1alpha1
---
apiVersion: v1
kind: Pod
metadata: {name: sys}
spec: {containers: [{name: c, image: registry.k8s.io/e2e-test-images/agnhost:2.53, args: [pause]}]}
`), 0o644)
	e.up(f)
	before := sysMounts(t)

	if got := strings.Fields(e.must("exec", "--name", e.name, "sys", "--", "ls", "/sys/class/net")); !slices.Equal(got, []string{"eth0", "lo"}) {
		t.Errorf("kinn exec POD -- ls /sys/class/net: %v, want [eth0 lo]", got)
	}
	node := e.nodes()[0].Name
	nodeNetns := e.nodes()[0].Annotations["kinn.dev/netns"]
	for target, netns := range map[string]string{"node/" + node: nodeNetns, "--external": "kinn." + e.name + ".switch"} {
		got := strings.Fields(e.must("exec", "--name", e.name, target, "--", "ls", "/sys/class/net"))
		if want := links(t, netns); !slices.Equal(got, want) {
			t.Errorf("kinn exec %s -- ls /sys/class/net: %v, want the namespace's own %v", target, got, want)
		}
	}
	if after := sysMounts(t); !slices.Equal(before, after) {
		t.Errorf("the host's mounts of /sys changed:\nbefore %v\nafter  %v", before, after)
	}

	out := e.must("get", "pods", "-o", "wide", "--name", e.name)
	head, line := lineWith(out, "NAME"), strings.Fields(lineWith(out, "sys "))
	col := slices.Index(strings.Fields(head), "HOST-IF")
	if col < 0 || col >= len(line) {
		t.Fatalf("get pods -o wide has no HOST-IF column:\n%s", out)
	}
	hostIf := line[col]
	// The pod's eth0 names its peer's index in the node; the node's
	// link of that index must be the one shown.
	peer, err := exec.Command("ip", "netns", "exec", "kinn."+e.name+".pod.default.sys", "cat", "/sys/class/net/eth0/iflink").Output()
	if err != nil {
		t.Fatal(err)
	}
	index, err := exec.Command("ip", "netns", "exec", nodeNetns, "cat", "/sys/class/net/"+hostIf+"/ifindex").Output()
	if err != nil || strings.TrimSpace(string(index)) != strings.TrimSpace(string(peer)) {
		t.Errorf("HOST-IF %s is not the peer of the pod's eth0 (iflink %s, its ifindex %s, %v)", hostIf, peer, index, err)
	}
}

// links are a namespace's links as a fresh sysfs there lists them.
func links(t *testing.T, netns string) []string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", netns, "ls", "/sys/class/net").Output()
	if err != nil {
		t.Fatalf("ip netns exec %s: %v", netns, err)
	}
	return strings.Fields(string(out))
}

// sysMounts are the host's mounts at or below /sys, and the sysfs mounts
// anywhere, as mountinfo lists them.
func sysMounts(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 4 && (f[4] == "/sys" || strings.HasPrefix(f[4], "/sys/") || strings.Contains(l, " - sysfs ")) {
			out = append(out, l)
		}
	}
	return out
}
