package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"kinn.dev/kinn/lab"
	"kinn.dev/kinn/lab/daemon"
	"kinn.dev/kinn/lab/kernel/kerneltest"
)

// The lab's life as a whole: what up does to a lab that exists, a lab
// process that stops answering, up and down at the same time, a full disk.

// classLab is an instructor's lab: its own namespace, a Deployment and a
// Service in it.
const classLab = `kind: Cluster
apiVersion: kinn.dev/v1alpha1
nodes: [{role: control-plane}, {role: worker}]
---
apiVersion: v1
kind: Namespace
metadata: {name: class}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: class}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: x, ports: [{containerPort: 8080}]}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: class}
spec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
`

func (e *env) opts() lab.Options {
	return lab.Options{StateRoot: e.dirs[1], RuntimeRoot: e.dirs[3]}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// podsIn counts the lab's pods in a namespace.
func (e *env) podsIn(ns string) int {
	n := 0
	for _, p := range e.pods() {
		if p.Namespace == ns {
			n++
		}
	}
	return n
}

// hasService reports whether the lab has the Service ns/name.
func (e *env) hasService(ns, name string) bool {
	out := e.must("get", "svc", "-A", "--name", e.name)
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == ns && f[1] == name {
			return true
		}
	}
	return false
}

// TestUpKeepsTheLab: `kinn up` without a file on a lab that exists
// converges it to what it is now — its file and the live changes since —
// instead of replacing it with the built-in default.
func TestUpKeepsTheLab(t *testing.T) {
	e := newEnv(t, "keep")
	e.up(writeFile(t, "class.yaml", classLab))
	e.must("scale", "--name", e.name, "-n", "class", "deployment", "web", "--replicas", "3")
	_, errOut, code := e.run("up", "--name", e.name)
	if code != 0 {
		t.Fatalf("up without -f: exit %d\n%s", code, errOut)
	}
	if !strings.Contains(errOut, "recorded topology") {
		t.Errorf("up without -f does not say it uses the lab's recorded topology:\n%s", errOut)
	}
	if n := e.podsIn("class"); n != 3 {
		t.Errorf("after up without -f, %d pods in namespace class, want the 3 it was scaled to", n)
	}
	if !e.hasService("class", "web") {
		t.Error("after up without -f, Service class/web is gone")
	}
	if len(e.nodes()) != 2 {
		t.Errorf("after up without -f, %d nodes, want the file's 2", len(e.nodes()))
	}
}

// TestUpFileAsks: `kinn up -f FILE` on a running lab shows what the file
// changes relative to the lab as it is now; when that takes away what live
// edits added (an applied Service, scaled pods) it refuses without --yes and
// leaves the lab as it is, and with --yes reverts them. Changes that take
// nothing away need no confirmation.
func TestUpFileAsks(t *testing.T) {
	e := newEnv(t, "ask")
	f := writeFile(t, "class.yaml", classLab)
	e.up(f)
	extra := writeFile(t, "extra.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: extra, namespace: class}\nspec: {selector: {app: web}, ports: [{port: 81, targetPort: 8080}]}\n")
	e.must("apply", "--name", e.name, "-f", extra)
	e.must("scale", "--name", e.name, "-n", "class", "deployment", "web", "--replicas", "3")

	_, errOut, code := e.run("up", "--name", e.name, "-f", f)
	if code != 1 {
		t.Fatalf("up -f reverting live changes without --yes: exit %d, want 1\n%s", code, errOut)
	}
	for _, want := range []string{"- Service class/extra", "~ Deployment class/web: replicas 3 -> 2", "- Pod class/web-", "--yes"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("refusal does not show %q:\n%s", want, errOut)
		}
	}
	if !e.hasService("class", "extra") || e.podsIn("class") != 3 {
		t.Fatalf("a refused up changed the lab: Service extra there: %v, %d pods in class (want 3)", e.hasService("class", "extra"), e.podsIn("class"))
	}

	e.must("up", "--name", e.name, "-f", f, "--yes")
	if e.hasService("class", "extra") || e.podsIn("class") != 2 {
		t.Errorf("up -f --yes did not revert: Service extra there: %v, %d pods in class (want 2)", e.hasService("class", "extra"), e.podsIn("class"))
	}

	// Putting back what was deleted takes nothing away: no question.
	e.must("delete", "--name", e.name, "-n", "class", "svc", "web")
	_, errOut, code = e.run("up", "--name", e.name, "-f", f)
	if code != 0 || !strings.Contains(errOut, "+ Service class/web") {
		t.Errorf("up -f that only adds: exit %d, want 0 and the Service shown as added\n%s", code, errOut)
	}
	if !e.hasService("class", "web") {
		t.Error("up -f did not bring the deleted Service back")
	}
}

// labPIDs are the lab's processes (the default lab runs no programs of its
// own, so these are its lab processes).
func (e *env) labPIDs() []int { return daemon.Find(e.opts(), e.name) }

// TestStoppedLabProcess: a lab process stopped with SIGSTOP is named as
// such at once by the commands that need it, and `kinn up` replaces it.
func TestStoppedLabProcess(t *testing.T) {
	e := newEnv(t, "sigstop")
	e.up("")
	pids := e.labPIDs()
	if len(pids) != 1 {
		t.Fatalf("%d lab processes, want 1: %v", len(pids), pids)
	}
	old := pids[0]
	if err := syscall.Kill(old, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(old, syscall.SIGKILL) }) // ours, whatever happened

	_, errOut, code := e.run("ready", "--name", e.name, "client", "false")
	if code != 1 || !strings.Contains(errOut, fmt.Sprintf("lab process (pid %d) is stopped", old)) || !strings.Contains(errOut, "kinn up") {
		t.Fatalf("ready with a stopped lab process: exit %d, want 1 and a message naming it stopped and `kinn up`:\n%s", code, errOut)
	}
	if _, errOut, _ := e.run("get", "pods", "--name", e.name); !strings.Contains(errOut, "is stopped") {
		t.Errorf("get pods with a stopped lab process does not warn that the readiness it shows is unknown:\n%s", errOut)
	}

	_, errOut, code = e.run("up", "--name", e.name)
	if code != 0 {
		t.Fatalf("up over a stopped lab process: exit %d\n%s", code, errOut)
	}
	if !strings.Contains(errOut, "replacing the lab process") {
		t.Errorf("up does not say it replaced the lab process:\n%s", errOut)
	}
	if st := procState(old); st != "" && st != "Z" {
		t.Errorf("the stopped lab process %d is still there (state %s)", old, st)
	}
	if now := e.labPIDs(); len(now) != 1 || now[0] == old {
		t.Errorf("lab processes after up: %v, want one new one (the old was %d)", now, old)
	}
	e.must("ready", "--name", e.name, "client", "false")
}

func procState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	return f[0]
}

// run is kinn run from any goroutine: its output and exit status.
func runKinn(dirs []string, args ...string) (string, int) {
	cmd := kinnCmd(dirs, args...)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		return err.Error(), -1
	}
	return string(out), 0
}

// TestUpDownRace runs up and down of one lab at the same time, again and
// again: afterwards the lab is either whole, with exactly one lab process
// that answers, or gone, with no lab process left behind.
func TestUpDownRace(t *testing.T) {
	e := newEnv(t, "race")
	both := 0 // rounds in which up and down both did their work, one after the other
	defer func() {
		if !t.Failed() && both == 0 {
			t.Errorf("in no round did both up and down succeed: the race was never run")
		}
	}()
	for round := range 10 {
		var wg sync.WaitGroup
		var upOut, downOut string
		var upCode, downCode int
		delay := time.Duration(rand.IntN(300)) * time.Millisecond
		wg.Add(2)
		go func() {
			defer wg.Done()
			upOut, upCode = runKinn(e.dirs, "up", "--name", e.name)
		}()
		go func() {
			defer wg.Done()
			time.Sleep(delay)
			downOut, downCode = runKinn(e.dirs, "down", "--name", e.name)
		}()
		wg.Wait()
		for _, r := range []struct {
			verb string
			code int
			out  string
		}{{"up", upCode, upOut}, {"down", downCode, downOut}} {
			if r.code != 0 && !strings.Contains(r.out, "is busy") {
				t.Errorf("round %d: %s failed (exit %d) other than by waiting for the other:\n%s", round, r.verb, r.code, r.out)
			}
		}
		if upCode == 0 && downCode == 0 {
			both++
		}
		recorded := fileExists(filepath.Join(e.dirs[1], e.name, "topology.yaml"))
		pids := e.labPIDs()
		ns := kerneltest.Namespaces("kinn." + e.name + ".")
		t.Logf("round %d (down after %v): up exit %d, down exit %d, recorded %v, %d lab processes, %d namespaces",
			round, delay, upCode, downCode, recorded, len(pids), len(ns))
		switch {
		case recorded && len(pids) != 1:
			t.Errorf("round %d: the lab exists with %d lab processes (%v), want 1\nup:\n%s\ndown:\n%s", round, len(pids), pids, upOut, downOut)
		case recorded:
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if _, err := daemon.NewClient(e.opts(), e.name).Status(ctx); err != nil {
				t.Errorf("round %d: the lab's process does not answer: %v", round, err)
			}
			cancel()
		case len(pids) > 0 || len(ns) > 0:
			t.Errorf("round %d: the lab is gone but left lab processes %v and namespaces %v\nup:\n%s\ndown:\n%s", round, pids, ns, upOut, downOut)
		}
		if t.Failed() {
			return
		}
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// assertJSONLines checks that a JSON-lines file holds whole lines only.
func assertJSONLines(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		return // no log at all is whole too
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Errorf("%s ends in a half line: %.80q", path, b[max(0, len(b)-80):])
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 16<<20)
	for i := 1; sc.Scan(); i++ {
		if !json.Valid(sc.Bytes()) {
			t.Errorf("%s line %d is not JSON: %.80q", path, i, sc.Bytes())
		}
	}
}

// TestFullDisk: `kinn up` of a new lab on a state disk that fills up fails
// saying so, and leaves nothing behind: no lab process, no namespaces.
// On a lab that exists it fails the same way and leaves the lab running.
func TestFullDisk(t *testing.T) {
	kerneltest.RequireRoot(t)
	for _, free := range []int64{8 << 10, 40 << 10} {
		t.Run(fmt.Sprintf("new lab, %dK free", free>>10), func(t *testing.T) {
			disk := kerneltest.SmallDisk(t, 1<<20)
			e := newEnv(t, "full")
			e.dirs[1] = disk
			kerneltest.FillDisk(t, disk, free)
			_, errOut, code := e.run("up", "--name", e.name)
			if code == 0 || !strings.Contains(errOut, "no space left on device") {
				t.Fatalf("up on a full disk: exit %d, want a failure saying there is no space:\n%s", code, errOut)
			}
			assertJSONLines(t, filepath.Join(disk, e.name, "cni-calls.jsonl"))
			e.assertGone()
		})
	}
	t.Run("existing lab", func(t *testing.T) {
		disk := kerneltest.SmallDisk(t, 1<<20)
		e := newEnv(t, "full")
		e.dirs[1] = disk
		e.up(writeFile(t, "class.yaml", classLab))
		kerneltest.FillDisk(t, disk, 0)
		_, errOut, code := e.run("up", "--name", e.name, "--yes", "-f", writeFile(t, "more.yaml", strings.Replace(classLab, "replicas: 2", "replicas: 9", 1)))
		if code == 0 || !strings.Contains(errOut, "no space left on device") {
			t.Fatalf("up on a full disk: exit %d, want a failure saying there is no space:\n%s", code, errOut)
		}
		assertJSONLines(t, filepath.Join(disk, e.name, "cni-calls.jsonl"))
		if pids := e.labPIDs(); len(pids) != 1 {
			t.Errorf("%d lab processes after a failed up of a lab that exists, want its 1", len(pids))
		}
		if n := e.podsIn("class"); n != 2 {
			t.Errorf("%d pods in class after a failed up, want the 2 it had", n)
		}
	})
}

// TestDownNoSuchLab: down of a lab that does not exist says so (exit 0,
// as kind does) and creates nothing.
func TestDownNoSuchLab(t *testing.T) {
	e := newEnv(t, "nosuch")
	_, errOut, code := e.run("down", "--name", e.name)
	if code != 0 || !strings.Contains(errOut, "does not exist") || strings.Contains(errOut, "is down") {
		t.Errorf("down of no lab: exit %d, stderr %q; want exit 0 and that it does not exist", code, errOut)
	}
	e.assertGone()
}
