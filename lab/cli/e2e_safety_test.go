package cli_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"kinn.dev/kinn/lab/kernel/kerneltest"
)

// The safety tests act as a careless or hostile user would: names and
// directories that could reach outside a lab, or into another lab.

// smallLab writes a two-node topology with a few pods and returns its path.
func smallLab(t *testing.T) string { return topologyFile(t, 2, 3) }

// topologyFile writes kerneltest.Topology's lab of nodes and pods to a
// temporary file and returns its path.
func topologyFile(t *testing.T, nodes, pods int) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), fmt.Sprintf("lab-%dx%d.yaml", nodes, pods))
	if err := os.WriteFile(f, []byte(kerneltest.Topology("", nodes, pods)), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestLabNameCannotLeaveItsRoot: `down --name ..` once removed the parents
// of both roots; names that are not DNS labels are refused by every verb
// before any path is built from them, and nothing outside is touched.
func TestLabNameCannotLeaveItsRoot(t *testing.T) {
	kerneltest.RequireRoot(t)
	parent := t.TempDir()
	state, run := filepath.Join(parent, "state"), filepath.Join(parent, "run")
	sentinel := filepath.Join(parent, "keep-me")
	os.WriteFile(sentinel, []byte("x"), 0o644)
	dirs := []string{"--state-dir", state, "--run-dir", run}
	for _, args := range [][]string{
		{"down", "--name", ".."},
		{"down", "--name", "."},
		{"down", "--name", "../state"},
		{"up", "--name", ".."},
		{"up", "--name", "RS_Bad"},
		{"up", "--name", "a.b"},
		{"up", "--name", strings.Repeat("a", 60)},
		{"get", "pods", "--name", ".."},
		{"exec", "--name", "..", "node/x", "--", "true"},
	} {
		out, err := kinnCmd(dirs, args...).CombinedOutput()
		if err == nil {
			t.Errorf("kinn %s: want an error, got success:\n%s", strings.Join(args, " "), out)
		}
		if !strings.Contains(string(out), "invalid lab name") {
			t.Errorf("kinn %s: want the name refused, got:\n%s", strings.Join(args, " "), out)
		}
	}
	if _, err := os.Stat(sentinel); err != nil {
		t.Fatalf("a file beside the roots was removed: %v", err)
	}
	for _, n := range []string{"..", "RS_Bad", "a.b"} {
		if ns := kerneltest.Namespaces("kinn." + n + "."); len(ns) != 0 {
			t.Errorf("namespaces made for %q: %v", n, ns)
		}
	}
}

// TestLabNameWithDotCannotReachAnotherLab: `down --name X.pod` once
// removed every pod namespace of lab X, selected by the prefix
// "kinn.X.pod.".
func TestLabNameWithDotCannotReachAnotherLab(t *testing.T) {
	e := newEnv(t, "dot")
	e.up(smallLab(t))
	before := kerneltest.Namespaces("kinn." + e.name + ".")
	for _, n := range []string{e.name + ".pod", e.name + ".node", e.name + "."} {
		if _, _, code := e.run("down", "--name", n); code == 0 {
			t.Errorf("down --name %s succeeded", n)
		}
	}
	if after := kerneltest.Namespaces("kinn." + e.name + "."); len(after) != len(before) {
		t.Fatalf("lab %s lost namespaces: %d before, %d after", e.name, len(before), len(after))
	}
	if failed := e.pingAll(); len(failed) != 0 {
		t.Errorf("lab broken after the refused downs: %v", failed)
	}
}

// TestSameNameOtherDirs: the same lab name under other state and runtime
// roots once took over the first lab's namespaces and started a second lab
// process. Namespace names are machine-wide, so the second is refused,
// by up and by down, and the first lab keeps working with one lab process.
func TestSameNameOtherDirs(t *testing.T) {
	e := newEnv(t, "owner")
	f := smallLab(t)
	e.up(f)
	for _, other := range [][]string{
		{"--state-dir", t.TempDir(), "--run-dir", t.TempDir()},
		{e.dirs[0], e.dirs[1], "--run-dir", t.TempDir()}, // the same record, another runtime root
	} {
		out, err := kinnCmd(other, "up", "--name", e.name, "-f", f).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "already runs from") {
			t.Errorf("up of the same name from %v: want a refusal naming the owner, got %v:\n%s", other, err, out)
		}
		out, err = kinnCmd(other, "down", "--name", e.name).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "already runs from") {
			t.Errorf("down of the same name from %v: want a refusal, got %v:\n%s", other, err, out)
		}
	}
	if p := kerneltest.Processes(e.name); len(p) != 1 {
		t.Errorf("want the first lab's one lab process, found %d: %v", len(p), p)
	}
	if failed := e.pingAll(); len(failed) != 0 {
		t.Errorf("first lab broken: %v", failed)
	}
	e.checkPasses()
}

// TestUnboundedInput: `up -f /dev/zero` once read 13.9 GB and ignored
// SIGTERM. Files are read up to a documented limit, and a read that
// blocks (a FIFO nobody writes to) ends at SIGTERM, creating nothing.
func TestUnboundedInput(t *testing.T) {
	e := newEnv(t, "input")
	out, errOut, code := e.run("up", "--name", e.name, "-f", "/dev/zero")
	if code != 2 || !strings.Contains(errOut, "larger than 8 MiB") {
		t.Errorf("up -f /dev/zero: want exit 2 naming the limit, got %d:\n%s%s", code, out, errOut)
	}
	out, errOut, code = e.run("apply", "--name", e.name, "-f", "/dev/zero")
	if code == 0 || !strings.Contains(errOut, "larger than 8 MiB") {
		t.Errorf("apply -f /dev/zero: want an error naming the limit, got %d:\n%s%s", code, out, errOut)
	}
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// No writer at all: the open blocks. Then a writer that never writes:
	// the read blocks. SIGTERM ends both.
	e.upFromFIFOStopsAtSIGTERM(fifo)
	w, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	e.upFromFIFOStopsAtSIGTERM(fifo)
	e.assertGone()
}

func (e *env) upFromFIFOStopsAtSIGTERM(fifo string) {
	e.t.Helper()
	cmd := kinnCmd(e.dirs, "up", "--name", e.name, "-f", fifo)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 130 || !strings.Contains(errb.String(), "interrupted") {
			e.t.Errorf("up from a silent FIFO after SIGTERM: want exit 130 saying interrupted, got %v:\n%s", err, errb.String())
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		e.t.Fatalf("up reading a silent FIFO ignored SIGTERM for 10 s")
	}
}

// TestInterruptedUp: SIGTERM during a large up stops it at its next step
// (not after the whole lab is built), leaves no lab process, and the next
// up converges the lab.
func TestInterruptedUp(t *testing.T) {
	e := newEnv(t, "sigterm")
	f := bigTopology(t, 200)
	cmd := kinnCmd(e.dirs, "up", "--name", e.name, "-f", f)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the nodes are there, then interrupt among the pods.
	for i := 0; i < 200 && len(kerneltest.Namespaces("kinn."+e.name+".pod.")) < 5; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 130 || !strings.Contains(errb.String(), "interrupted") {
		t.Errorf("want exit 130 saying interrupted, got %v:\n%s", err, errb.String())
	}
	if pods := kerneltest.Namespaces("kinn." + e.name + ".pod."); len(pods) >= 202 {
		t.Errorf("SIGTERM did not stop up: all %d pods were made", len(pods))
	}
	if p := kerneltest.Processes(e.name); len(p) != 0 {
		t.Errorf("an interrupted up left a lab process: %v", p)
	}
	e.up(f)
	if n := len(e.pods()); n != 202 {
		t.Errorf("up after the interruption: %d pods, want 202", n)
	}
}

// TestNetworkChangeConverges: changing podSubnet, nodeSubnet or the
// overlay of a running lab once failed on the first up with a raw netlink
// error ("del neighbour ... no such file or directory") and left the lab
// broken until a second up. Each change converges in one up.
func TestNetworkChangeConverges(t *testing.T) {
	e := newEnv(t, "renet")
	base := kerneltest.Topology("", 3, 4)
	dir := t.TempDir()
	for i, networking := range []string{
		"",
		"networking: {podSubnet: 10.245.0.0/16}\n",
		"networking: {podSubnet: 10.245.0.0/16, nodeSubnet: 172.19.0.0/16, overlay: host-gw}\n",
		"networking: {overlay: vxlan, vni: 7}\n",
		"",
	} {
		f := filepath.Join(dir, fmt.Sprintf("net%d.yaml", i))
		doc := strings.Replace(base, "nodes:\n", networking+"nodes:\n", 1)
		if err := os.WriteFile(f, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, errOut, code := e.run("up", "--name", e.name, "-f", f, "--yes"); code != 0 {
			t.Fatalf("up with %q: exit %d\n%s%s", networking, code, out, errOut)
		}
		e.checkPasses()
	}
	if out := e.must("exec", "--name", e.name, "--external", "--", "ip", "-o", "addr", "show", "br0"); strings.Contains(out, "172.19.") {
		t.Errorf("the switch kept the old nodeSubnet's address:\n%s", out)
	}
}

// TestExecHoldsNoOtherLab: `kinn exec POD` runs its command in a private
// mount namespace, which once copied every /run/netns mount of every lab,
// keeping another lab's namespaces alive while the command ran.
func TestExecHoldsNoOtherLab(t *testing.T) {
	e := newEnv(t, "exechold")
	e.up(smallLab(t))
	pod := e.userPods()[0]
	marker := fmt.Sprintf("4%03d.%06d", os.Getpid()%1000, time.Now().Nanosecond()/1000) // seconds no other process sleeps
	cmd := kinnCmd(e.dirs, "exec", "--name", e.name, pod.Name, "--", "sleep", marker)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	var pid string
	for i := 0; i < 100 && pid == ""; i++ {
		time.Sleep(20 * time.Millisecond)
		for _, p := range kerneltest.Processes(marker) {
			if id, args, _ := strings.Cut(p, ": "); strings.HasPrefix(args, "sleep ") {
				pid = id // the command itself, not kinn exec waiting for it
			}
		}
	}
	if pid == "" {
		t.Fatal("the exec'd command did not start")
	}
	b, err := os.ReadFile("/proc/" + pid + "/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, " nsfs ") {
			t.Errorf("kinn exec's command holds a namespace mount: %s", l)
		}
	}
}

// TestNoPhantomLab: a live-edit verb naming a lab that does not exist once
// left that lab's lock directory behind, and List then counted a lab that
// never was ("2 labs exist").
func TestNoPhantomLab(t *testing.T) {
	e := newEnv(t, "phantom")
	for _, args := range [][]string{
		{"scale", "deployment", "web", "--replicas", "2", "--name", e.name},
		{"delete", "pod", "x", "--name", e.name},
		{"ready", "x", "true", "--name", e.name},
		{"cni", "reattach", "--all", "--name", e.name},
		{"down", "--name", e.name},
	} {
		if _, _, code := e.run(args...); code == 0 && args[0] != "down" {
			t.Errorf("kinn %s on no lab succeeded", strings.Join(args, " "))
		}
		for _, d := range []string{e.dirs[1], e.dirs[3]} {
			if _, err := os.Stat(filepath.Join(d, e.name)); err == nil {
				t.Errorf("kinn %s left %s/%s behind", strings.Join(args, " "), d, e.name)
			}
		}
	}
}

// TestRepairReportIsOnlyDrift: up's list of what it repaired names only
// differences from the lab's previous desired state: pods and nodes a new
// file adds, or a scale brings back, are not "repairs".
func TestRepairReportIsOnlyDrift(t *testing.T) {
	e := newEnv(t, "report")
	small, big := topologyFile(t, 2, 3), topologyFile(t, 3, 3)
	e.up(small)
	e.must("scale", "deployment", "big", "--replicas", "1", "--name", e.name)
	for _, f := range []string{small, big} {
		out := e.must("up", "--name", e.name, "-f", f, "--yes")
		if strings.Contains(out, "Found and fixed") {
			t.Errorf("up -f %s reports repairs where nothing drifted:\n%s", filepath.Base(f), out)
		}
	}
}
