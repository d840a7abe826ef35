// Package kerneltest holds helpers for tests that run against the real
// kernel: skipping without root, unique lab names, and a snapshot of the
// host's own network state to prove a test left it exactly as it was. The
// snapshot reads the host with iproute2 and nft in read-only mode; kinn
// itself never runs them.
package kerneltest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// RequireRoot skips the test unless it runs with the privileges kinn needs.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: needs root to create network namespaces (run the suite with sudo)")
	}
}

// UniqueName returns a lab name no other test run uses.
func UniqueName(prefix string) string {
	b := make([]byte, 3)
	rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// HostSnapshot describes the host namespace's links, addresses, routes,
// rules, nftables ruleset and network sysctls as text.
func HostSnapshot(t testing.TB) string {
	t.Helper()
	var sb strings.Builder
	for _, args := range [][]string{
		{"ip", "-d", "link", "show"},
		{"ip", "addr", "show"},
		{"ip", "route", "show", "table", "all"},
		{"ip", "rule", "show"},
		{"nft", "list", "ruleset"},
	} {
		out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
		sb.WriteString("## " + strings.Join(args, " ") + "\n" + string(out))
	}
	sb.WriteString("## sysctls\n" + sysctls(t))
	return sb.String()
}

func sysctls(t testing.TB) string {
	var lines []string
	filepath.WalkDir("/proc/sys/net", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, "_count") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err == nil {
			lines = append(lines, path+"="+strings.TrimSpace(string(b)))
		}
		return nil
	})
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}

// DiffLines lists the lines present in only one of a and b.
func DiffLines(a, b string) string {
	count := map[string]int{}
	for _, l := range strings.Split(a, "\n") {
		count[l]++
	}
	for _, l := range strings.Split(b, "\n") {
		count[l]--
	}
	var out []string
	for l, c := range count {
		if c > 0 {
			out = append(out, "- "+l)
		} else if c < 0 {
			out = append(out, "+ "+l)
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// Namespaces lists /run/netns entries starting with prefix.
func Namespaces(prefix string) []string {
	ents, _ := os.ReadDir("/run/netns")
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix) {
			out = append(out, e.Name())
		}
	}
	return out
}

// Mounts lists mount points containing s.
func Mounts(s string) []string {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 4 && strings.Contains(f[4], s) {
			out = append(out, f[4])
		}
	}
	return out
}

// Topology is a lab file of one control plane and nodes-1 workers, with a
// Deployment of pods replicas that tolerate the control plane's taint, so
// the pods spread over every node.
func Topology(name string, nodes, pods int) string {
	doc := "kind: Cluster\napiVersion: kinn.dev/v1alpha1\n"
	if name != "" {
		doc += "name: " + name + "\n"
	}
	doc += "nodes:\n- role: control-plane\n" + strings.Repeat("- role: worker\n", nodes-1)
	return doc + fmt.Sprintf(`---
apiVersion: apps/v1
kind: Deployment
metadata: {name: big}
spec:
  replicas: %d
  selector: {matchLabels: {app: big}}
  template:
    metadata: {labels: {app: big}}
    spec:
      containers: [{name: c, image: x, ports: [{containerPort: 8080}]}]
      tolerations: [{key: node-role.kubernetes.io/control-plane, operator: Exists, effect: NoSchedule}]
`, pods)
}

// Processes lists the command lines of processes with word among their
// arguments (kinn's lab processes carry their lab's name).
func Processes(word string) []string {
	ents, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || e.Name() == "self" {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		for _, a := range args {
			if a == word {
				out = append(out, e.Name()+": "+strings.Join(args, " "))
				break
			}
		}
	}
	return out
}
