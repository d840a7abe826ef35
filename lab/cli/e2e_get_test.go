package cli_test

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"kinn.dev/kinn/lab/daemon"
)

// runEnv is run with extra environment variables (KINN_LAB).
func (e *env) runEnv(envs []string, args ...string) (string, string, int) {
	e.t.Helper()
	cmd := kinnCmd(e.dirs, args...)
	cmd.Env = append(os.Environ(), envs...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), errb.String(), ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("run kinn: %v", err)
	}
	return out.String(), errb.String(), 0
}

// rowOf is the line of a table whose first cell is name.
func rowOf(table, name string) []string {
	for _, l := range strings.Split(table, "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == name {
			return f
		}
	}
	return nil
}

// TestGetPolish: global flags before the verb, the lab chosen by KINN_LAB
// and kinn use, selectors, the new kinds, get --watch, and a listing made
// while the lab process is down, on one lab.
func TestGetPolish(t *testing.T) {
	e := newEnv(t, "gpol")
	e.up("")

	// --name (and the directories, which e.run puts first) before the
	// verb, between the verb and its arguments, and last, all alike.
	want := e.must("get", "pods", "--name", e.name)
	for _, args := range [][]string{{"--name", e.name, "get", "pods"}, {"get", "--name", e.name, "pods"}} {
		if got := e.must(args...); got != want || rowOf(got, "client") == nil {
			t.Errorf("kinn %v:\n%s\nwant\n%s", args, got, want)
		}
	}
	last := kinnCmd(nil, append([]string{"get", "pods", "--name", e.name}, e.dirs...)...)
	if out, err := last.Output(); err != nil || string(out) != want {
		t.Errorf("kinn get pods --name X --state-dir D --run-dir R: %v\n%s", err, out)
	}

	// A second lab (only its state directory) makes a bare command
	// ambiguous, as other labs on the machine would.
	if err := os.Mkdir(filepath.Join(e.dirs[1], "gpol-other"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := e.runEnv([]string{"KINN_LAB="}, "get", "pods"); code == 0 || !strings.Contains(errOut, "KINN_LAB") {
		t.Errorf("get pods with two labs and no choice: exit %d, want an error naming the ways to choose:\n%s", code, errOut)
	}
	if out, errOut, code := e.runEnv([]string{"KINN_LAB=" + e.name}, "get", "pods"); code != 0 || out != want {
		t.Errorf("KINN_LAB=%s get pods: exit %d\n%s%s", e.name, code, out, errOut)
	}
	if out, _, code := e.runEnv([]string{"KINN_LAB=nosuchlab"}, "get", "pods", "--name", e.name); code != 0 || out != want {
		t.Errorf("--name does not win over KINN_LAB: exit %d\n%s", code, out)
	}
	if _, _, code := e.runEnv([]string{"KINN_LAB="}, "use"); code != 1 {
		t.Errorf("kinn use without a current lab: exit %d, want 1", code)
	}
	e.must("use", e.name)
	if out, _, _ := e.runEnv([]string{"KINN_LAB="}, "use"); strings.TrimSpace(out) != e.name {
		t.Errorf("kinn use prints %q, want %q", out, e.name)
	}
	if out, errOut, code := e.runEnv([]string{"KINN_LAB="}, "get", "pods"); code != 0 || out != want {
		t.Errorf("get pods after kinn use: exit %d\n%s%s", code, out, errOut)
	}
	if _, errOut, code := e.runEnv([]string{"KINN_LAB=gpol-other"}, "get", "pods"); code == 0 || !strings.Contains(errOut, "gpol-other") {
		t.Errorf("KINN_LAB does not win over kinn use: exit %d\n%s", code, errOut)
	}

	// Selectors, labels and the workload kinds.
	if out := e.must("get", "pods", "--name", e.name, "-l", "app=web"); strings.Count(out, "web-") != 3 || rowOf(out, "client") != nil {
		t.Errorf("get pods -l app=web:\n%s", out)
	}
	if out := e.must("get", "pods", "--name", e.name, "-l", "app in (client,nothing)", "--show-labels"); rowOf(out, "client") == nil ||
		!strings.Contains(out, "LABELS") || !strings.Contains(out, "app=client") || strings.Contains(out, "web-") {
		t.Errorf("get pods -l 'app in (client,nothing)' --show-labels:\n%s", out)
	}
	if out := e.must("get", "pods", "--name", e.name, "-l", "!app"); !strings.Contains(out, "No pods found") {
		t.Errorf("get pods -l '!app':\n%s", out)
	}
	if r := rowOf(e.must("get", "deployments", "--name", e.name), "web"); strings.Join(r, " ") != "web 3/3 3 3" {
		t.Errorf("get deployments: web row %v, want web 3/3 3 3", r)
	}
	if out := e.must("get", "ns", "--name", e.name, "-l", "kubernetes.io/metadata.name=kube-system"); rowOf(out, "kube-system") == nil || rowOf(out, "default") != nil {
		t.Errorf("get namespaces -l:\n%s", out)
	}
	slices := e.must("get", "endpointslices", "--name", e.name, "-o", "wide", "-l", "kubernetes.io/service-name=web")
	if !strings.Contains(slices, "READY") || !strings.Contains(slices, "3/3") {
		t.Errorf("get endpointslices -o wide has no READY counts:\n%s", slices)
	}

	// get --watch: the table, then client's row again when it turns unready.
	watch := kinnCmd(e.dirs, "get", "pods", "--name", e.name, "-w")
	stdout, err := watch.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { watch.Process.Kill(); watch.Wait() })
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	waitLine := func(what string, match func([]string) bool) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("get -w ended before %s", what)
				}
				if match(strings.Fields(l)) {
					return
				}
			case <-deadline:
				t.Fatalf("get -w printed no %s in 10 s", what)
			}
		}
	}
	isClient := func(ready string) func([]string) bool {
		return func(f []string) bool { return len(f) > 1 && f[0] == "client" && f[1] == ready }
	}
	waitLine("ready client row", isClient("1/1"))
	e.must("ready", "--name", e.name, "client", "false")
	waitLine("row of client turning unready", isClient("0/1"))
	watch.Process.Signal(syscall.SIGINT)
	if err := watch.Wait(); err != nil {
		t.Errorf("get -w after Ctrl-C: %v, want exit 0", err)
	}

	// The lab process down: readiness is unknown, and said to be.
	if err := daemon.Stop(e.opts(), e.name); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := e.run("get", "pods", "--name", e.name)
	if code != 0 || !strings.Contains(errOut, "readiness is unknown") || !strings.Contains(errOut, "not running") {
		t.Errorf("get pods with the lab process down: exit %d, want 0 and a warning that readiness is unknown:\n%s", code, errOut)
	}
	if r := rowOf(out, "client"); len(r) < 2 || r[1] != "?/1" {
		t.Errorf("client's row with the lab process down: %v, want READY ?/1:\n%s", r, out)
	}
	out, errOut, _ = e.run("get", "endpointslices", "--name", e.name, "-o", "wide")
	if !strings.Contains(errOut, "readiness is unknown") || strings.Contains(out, "0/3") || !strings.Contains(out, "?") {
		t.Errorf("get endpointslices with the lab process down:\n%s%s", out, errOut)
	}
}
