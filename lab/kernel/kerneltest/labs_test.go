package kerneltest

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// childEnv makes the test binary play a test process that made a lab and
// is then killed.
const childEnv = "KERNELTEST_SWEEP_CHILD"

// TestSweepRemovesDeadProcessLabs: a test process killed with its lab up
// (a namespace, a process inside it, a process with the lab's run directory
// on its command line, standing for the lab process) leaves it all behind;
// the next Sweep removes it, and leaves a live process's lab alone.
func TestSweepRemovesDeadProcessLabs(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		sweepChild(t)
		return
	}
	mine := NewLab(t, "sweepown")
	run(t, "ip", "netns", "add", mine.Netns("node"))

	child := exec.Command(os.Args[0], "-test.run=^TestSweepRemovesDeadProcessLabs$")
	child.Env = append(os.Environ(), childEnv+"=1")
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	var name, dir string
	var pids []int
	sc := bufio.NewScanner(out)
	for name == "" && sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 5 && f[0] == "LAB" {
			name, dir = f[1], f[2]
			for _, s := range f[3:] {
				pid, _ := strconv.Atoi(s)
				pids = append(pids, pid)
			}
		}
	}
	child.Process.Signal(syscall.SIGKILL)
	child.Wait()
	if name == "" {
		t.Fatal("the child made no lab")
	}
	prefix := "kinn." + name + "."
	t.Cleanup(func() { removeLab(name, dir) }) // in case Sweep fails
	if len(Namespaces(prefix)) != 1 {
		t.Fatalf("the child's namespace is not there: %v", Namespaces(prefix))
	}

	Sweep()
	if ns := Namespaces(prefix); len(ns) != 0 {
		t.Errorf("namespaces left: %v", ns)
	}
	for _, pid := range pids {
		if running(pid) {
			t.Errorf("process %d left", pid)
		}
	}
	if _, err := os.Stat(filepath.Dir(dir)); err == nil {
		t.Errorf("directory %s left", filepath.Dir(dir))
	}
	if !slices.Contains(Namespaces(mine.NetnsPrefix()), mine.Netns("node")) {
		t.Errorf("Sweep removed the namespace of a live test process's lab")
	}
	if _, err := os.Stat(mine.StateDir); err != nil {
		t.Errorf("Sweep removed a live test process's directory: %v", err)
	}
}

// sweepChild makes a lab, starts its processes, says so and waits to be
// killed.
func sweepChild(t *testing.T) {
	l := NewLab(t, "sweepdead")
	ns := l.Netns("node")
	run(t, "ip", "netns", "add", ns)
	inside := exec.Command("ip", "netns", "exec", ns, "sleep", "600")
	log := filepath.Join(l.RunDir, "lab.log")
	if err := os.WriteFile(log, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	labProcess := exec.Command("tail", "-f", log)
	for _, c := range []*exec.Cmd{inside, labProcess} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
	}
	// Wait until ip has moved into the namespace and become sleep.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if b, _ := os.ReadFile("/proc/" + strconv.Itoa(inside.Process.Pid) + "/comm"); strings.TrimSpace(string(b)) == "sleep" {
			break
		}
	}
	os.Stdout.WriteString("LAB " + l.Name + " " + l.dir + " " + strconv.Itoa(inside.Process.Pid) + " " + strconv.Itoa(labProcess.Process.Pid) + "\n")
	time.Sleep(time.Minute) // killed long before
}

func run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}
