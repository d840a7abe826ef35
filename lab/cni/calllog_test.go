package cni_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"kinn.dev/kinn/lab/cni"
	"kinn.dev/kinn/lab/kernel"
	"kinn.dev/kinn/lab/kernel/kerneltest"
	"kinn.dev/kinn/lab/plan"
	"kinn.dev/kinn/topology"
)

// misbehaving is a plugin that misbehaves in the way its name says: one
// binary, linked under each name.
const misbehaving = `package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

func main() {
	if os.Getenv("CNI_COMMAND") == "VERSION" {
		fmt.Print(` + "`" + `{"cniVersion":"1.1.0","supportedVersions":["1.0.0","1.1.0"]}` + "`" + `)
		return
	}
	var conf struct{ PidFile string }
	b, _ := io.ReadAll(os.Stdin)
	json.Unmarshal(b, &conf)
	if os.Getenv("CNI_COMMAND") != "ADD" {
		return
	}
	switch filepath.Base(os.Args[0]) {
	case "chatty":
		fmt.Fprintln(os.Stderr, "chatty: configuring eth0")
		fmt.Print(` + "`" + `{"cniVersion":"1.1.0","ips":[{"address":"10.244.0.9/24"}]}` + "`" + `)
	case "garbled":
		fmt.Println("configured eth0, all good")
	case "panicky":
		var m map[string]int
		m["boom"]++
	case "sleepy":
		// A child in the plugin's process group, as a delegated plugin is.
		child := exec.Command("sleep", "300")
		child.Start()
		os.WriteFile(conf.PidFile, []byte(fmt.Sprintf("%d %d", os.Getpid(), child.Process.Pid)), 0o644)
		time.Sleep(300 * time.Second)
	}
}
`

// misbehavingPlugins builds the plugin into a directory of the test's.
func misbehavingPlugins(t *testing.T) string {
	t.Helper()
	src, bin := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(src, "main.go"), []byte(misbehaving), 0o644)
	cmd := exec.Command("go", "build", "-o", filepath.Join(bin, "chatty"), "main.go")
	cmd.Dir, cmd.Env = src, append(os.Environ(), "GOFLAGS=", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the test plugin: %v\n%s", err, out)
	}
	for _, name := range []string{"garbled", "panicky", "sleepy"} {
		if err := os.Link(filepath.Join(bin, "chatty"), filepath.Join(bin, name)); err != nil {
			t.Fatal(err)
		}
	}
	return bin
}

// oneNode is a node namespace and a pod's, bare: the test plugins need
// nothing else.
func oneNode(t *testing.T) (plan.Node, plan.Pod) {
	l := kerneltest.NewLab(t, "clog")
	n := plan.Node{Name: "n1", Netns: l.Netns("n1"), PodCIDR: netipPrefix(t, "10.244.0.0/24")}
	p := plan.Pod{Namespace: "default", Name: "p", Node: n.Name, Netns: l.Netns("p"), ContainerID: "c0ffee"}
	for _, ns := range []string{n.Netns, p.Netns} {
		if _, err := kernel.CreateNetns(ns); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { kernel.DeleteNetns(ns) })
	}
	return n, p
}

// addWith runs one ADD through a chain of the one plugin and returns the
// error and the call logged.
func addWith(t *testing.T, bin, plugin, extra string, timeout time.Duration) (error, cni.Call) {
	t.Helper()
	n, p := oneNode(t)
	list := `{"cniVersion": "1.1.0", "name": "misbehaving", "plugins": [{"type": "` + plugin + `"` + extra + `}]}`
	chain, err := cni.LoadChain(&topology.CNIConfig{ConfList: list, BinDir: bin, CallTimeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rt := &cni.Runtime{Dir: dir, Chain: chain, Log: &cni.CallLog{Path: filepath.Join(dir, "calls.jsonl")}}
	_, addErr := rt.Add(context.Background(), n, p)
	rt.Log.Close()
	calls, err := cni.ReadCalls(rt.Log.Path)
	if err != nil || len(calls) != 1 {
		t.Fatalf("want one call logged, got %d (%v)", len(calls), err)
	}
	return addErr, calls[0]
}

// TestCallLogKeepsEverything: stderr of a plugin that succeeds, stdout that
// is not JSON (and that the runtime did not accept it), and a panic's exit
// status 2 with its stack are all in the call.
func TestCallLogKeepsEverything(t *testing.T) {
	kerneltest.RequireRoot(t)
	bin := misbehavingPlugins(t)
	t.Run("stderr", func(t *testing.T) {
		err, c := addWith(t, bin, "chatty", "", 0)
		if err != nil || !c.OK() || c.Stderr != "chatty: configuring eth0\n" || c.Plugin != "chatty" || c.Network != "misbehaving" {
			t.Errorf("ADD: %v; logged %q, stderr %q, plugin %q of %q", err, c.Outcome(), c.Stderr, c.Plugin, c.Network)
		}
	})
	t.Run("not JSON", func(t *testing.T) {
		err, c := addWith(t, bin, "garbled", "", 0)
		if err == nil {
			t.Errorf("ADD of a plugin printing no JSON succeeded")
		}
		if c.Stdout != "configured eth0, all good\n" || c.ExitStatus != 0 || c.Rejected == "" || c.OK() ||
			!strings.HasPrefix(c.Outcome(), "not accepted: ") {
			t.Errorf("logged stdout %q, exit %d, outcome %q; want the raw stdout, exit 0, not accepted", c.Stdout, c.ExitStatus, c.Outcome())
		}
	})
	t.Run("panic", func(t *testing.T) {
		err, c := addWith(t, bin, "panicky", "", 0)
		if err == nil || !strings.Contains(err.Error(), "exit status 2") || !strings.Contains(err.Error(), "panic: assignment to entry in nil map") {
			t.Errorf("ADD error %v; want the exit status and the panic's first line", err)
		}
		if c.ExitStatus != 2 || c.Error != nil || !strings.Contains(c.Stderr, "\ngoroutine 1 [running]:\nmain.main()\n") {
			t.Errorf("logged exit %d, error %v, stderr %q; want 2, no CNI error, the stack", c.ExitStatus, c.Error, c.Stderr)
		}
	})
}

// TestCallTimeout: a plugin that hangs in ADD is killed, with the process
// it started, when cni.timeout runs out, and the call says it timed out.
func TestCallTimeout(t *testing.T) {
	kerneltest.RequireRoot(t)
	bin := misbehavingPlugins(t)
	pidFile := filepath.Join(t.TempDir(), "pids")
	start := time.Now()
	err, c := addWith(t, bin, "sleepy", `, "pidFile": "`+pidFile+`"`, time.Second)
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "did not answer within 1s") {
		t.Errorf("ADD error %v; want the timeout", err)
	}
	if took > 20*time.Second {
		t.Errorf("ADD took %v with a 1s timeout", took)
	}
	if !c.TimedOut || !strings.HasPrefix(c.Outcome(), "timed out") || c.Signal != "killed" {
		t.Errorf("logged timedOut %t, signal %q, outcome %q", c.TimedOut, c.Signal, c.Outcome())
	}
	b, _ := os.ReadFile(pidFile)
	pids := strings.Fields(string(b))
	if len(pids) != 2 {
		t.Fatalf("the plugin wrote pids %q", b)
	}
	for _, s := range pids {
		pid, _ := strconv.Atoi(s)
		if !gone(pid) {
			t.Errorf("process %d (of %v: the plugin, its child) is still there", pid, pids)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// gone says whether pid has ended (a zombie has), waiting a little for
// the child's reaper, init.
func gone(pid int) bool {
	for range 50 {
		st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if errors.Is(err, os.ErrNotExist) {
			return true
		}
		if f := strings.Fields(string(st[strings.LastIndexByte(string(st), ')')+1:])); len(f) > 0 && f[0] == "Z" {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

// TestPrintable: a plugin's escape sequences are shown, not obeyed.
func TestPrintable(t *testing.T) {
	t.Parallel()
	if got := cni.Printable("ok\x1b[2Jgone\r\n\tstack\u009b"); got != "ok\\x1b[2Jgone\\x0d\n\tstack\\x9b" {
		t.Errorf("cni.Printable = %q", got)
	}
}
