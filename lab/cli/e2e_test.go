package cli_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"kinn.dev/kinn/lab/cni/cnitest"
	"kinn.dev/kinn/lab/kernel/kerneltest"
)

// The end-to-end tests run the real kinn binary as a user would, each with
// its own lab name and state and runtime directories, against the kernel.

var kinnBin string

func TestMain(m *testing.M) {
	code := func() int {
		if os.Geteuid() != 0 {
			return m.Run() // the tests skip themselves
		}
		// In this process's test directory, which a later run removes
		// if this one is killed.
		dir, err := kerneltest.ProcessDir()
		if err != nil {
			panic(err)
		}
		defer kerneltest.ReleaseProcessDir()
		kinnBin = filepath.Join(dir, "kinn")
		defer os.Remove(kinnBin)
		out, err := exec.Command("go", "build", "-o", kinnBin, "kinn.dev/kinn").CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "build kinn: %v\n%s", err, out)
			return 1
		}
		defer cnitest.Cleanup()
		return m.Run()
	}()
	os.Exit(code)
}

// env is one test's lab: its name and directories.
type env struct {
	t    *testing.T
	name string
	dirs []string
}

func newEnv(t *testing.T, prefix string) *env {
	t.Helper()
	l := kerneltest.NewLab(t, prefix)
	e := &env{t: t, name: l.Name}
	e.dirs = []string{"--state-dir", l.StateDir, "--run-dir", l.RunDir}
	t.Cleanup(func() {
		// Always take the lab down, also when the test failed half-way.
		if _, errOut, code := e.run("down", "--name", e.name); code != 0 {
			t.Errorf("cleanup: kinn down: %s", errOut)
		}
	})
	return e
}

// kinnCmd is the kinn binary with the given directories and arguments.
func kinnCmd(dirs []string, args ...string) *exec.Cmd {
	return exec.Command(kinnBin, append(append([]string{}, dirs...), args...)...)
}

// run runs kinn with the env's directories and returns stdout, stderr and
// the exit status.
func (e *env) run(args ...string) (string, string, int) {
	e.t.Helper()
	cmd := exec.Command(kinnBin, append(append([]string{}, e.dirs...), args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("run kinn: %v", err)
	}
	return out.String(), errb.String(), code
}

func (e *env) must(args ...string) string {
	e.t.Helper()
	out, errOut, code := e.run(args...)
	if code != 0 {
		e.t.Fatalf("kinn %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

func (e *env) up(file string) {
	e.t.Helper()
	args := []string{"up", "--name", e.name}
	if file != "" {
		args = append(args, "-f", file)
	}
	e.must(args...)
}

func (e *env) pods() []corev1.Pod {
	e.t.Helper()
	var l corev1.PodList
	if err := json.Unmarshal([]byte(e.must("get", "pods", "-A", "-o", "json", "--name", e.name)), &l); err != nil {
		e.t.Fatal(err)
	}
	return l.Items
}

// userPods are the pods the topology file asked for: all but the cluster's
// add-ons in kube-system (its DNS).
func (e *env) userPods() []corev1.Pod {
	e.t.Helper()
	var out []corev1.Pod
	for _, p := range e.pods() {
		if p.Namespace != "kube-system" {
			out = append(out, p)
		}
	}
	return out
}

func (e *env) nodes() []corev1.Node {
	e.t.Helper()
	var l corev1.NodeList
	if err := json.Unmarshal([]byte(e.must("get", "nodes", "-o", "json", "--name", e.name)), &l); err != nil {
		e.t.Fatal(err)
	}
	return l.Items
}

// ping reports whether one ICMP echo from the pod to ip is answered.
func (e *env) ping(pod corev1.Pod, ip string) bool {
	_, _, code := e.run("exec", "--name", e.name, "-n", pod.Namespace, pod.Name, "--", "ping", "-c", "1", "-W", "2", ip)
	return code == 0
}

// pingAll has every pod ping every other pod and its own node, in parallel,
// and returns the failed pairs.
func (e *env) pingAll() []string {
	e.t.Helper()
	pods := e.pods()
	type pair struct {
		from corev1.Pod
		to   string
	}
	var pairs []pair
	for _, p := range pods {
		if p.Status.PodIP == "" {
			e.t.Fatalf("pod %s/%s has no IP", p.Namespace, p.Name)
		}
		pairs = append(pairs, pair{p, p.Status.HostIP})
		for _, q := range pods {
			if q.Name != p.Name || q.Namespace != p.Namespace {
				pairs = append(pairs, pair{p, q.Status.PodIP})
			}
		}
	}
	var mu sync.Mutex
	var failed []string
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for _, pr := range pairs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if !e.ping(pr.from, pr.to) {
				mu.Lock()
				failed = append(failed, pr.from.Name+" -> "+pr.to)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return failed
}

// assertGone checks that nothing of the lab is left on the machine.
func (e *env) assertGone() {
	e.t.Helper()
	prefix := "kinn." + e.name + "."
	if ns := kerneltest.Namespaces(prefix); len(ns) != 0 {
		e.t.Errorf("namespaces left: %v", ns)
	}
	if m := kerneltest.Mounts(prefix); len(m) != 0 {
		e.t.Errorf("mounts left: %v", m)
	}
	if p := kerneltest.Processes(e.name); len(p) != 0 {
		e.t.Errorf("processes left: %v", p)
	}
	for _, d := range []string{e.dirs[1], e.dirs[3]} {
		if _, err := os.Stat(filepath.Join(d, e.name)); err == nil {
			e.t.Errorf("directory %s/%s left", d, e.name)
		}
	}
}
