package cli_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
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

// The tests here run kinn.dev/run programs and look at them from outside
// (their processes and namespaces) and from inside (what a program says
// about itself over HTTP): a program runs confined, and nothing it starts
// outlives its pod.

// detachLine is a program that double-forks a sleep which leaves the
// program's session and drops kinn's KINN_LAB mark from its environment,
// as a daemon does, then waits.
func detachLine(mark string) string {
	return fmt.Sprintf(`sh -c "(env -i setsid sleep %s &); exec sleep 3600"`, mark)
}

// TestProgramDetachedChildren: whatever a program started, however it
// detached, ends with its pod: when the pod is deleted, and when kinn down
// stops a lab whose lab process had died (down finds the program by its
// environment). No process is left in the pods' network namespaces.
func TestProgramDetachedChildren(t *testing.T) {
	e := newEnv(t, "detach")
	// sleep takes fractions: a duration no other process on the machine has.
	n := rand.IntN(1_000_000)
	marks := map[string]string{"deleted": fmt.Sprintf("86399.%06d1", n), "downed": fmt.Sprintf("86399.%06d2", n)}
	var doc strings.Builder
	doc.WriteString("kind: Cluster\napiVersion: kinn.dev/v1alpha1\n")
	for _, pod := range []string{"deleted", "downed"} {
		fmt.Fprintf(&doc, "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n  annotations: {kinn.dev/run: %s}\nspec: {containers: [{name: c, image: x}]}\n",
			pod, jsonString(detachLine(marks[pod])))
	}
	f := filepath.Join(t.TempDir(), "detach.yaml")
	os.WriteFile(f, []byte(doc.String()), 0o644)
	e.up(f)

	detached := map[string]int{}
	netns := map[string]os.FileInfo{}
	for pod, mark := range marks {
		detached[pod] = waitProcess(t, "sleep", mark)
		st, err := os.Stat("/run/netns/kinn." + e.name + ".pod.default." + pod)
		if err != nil {
			t.Fatal(err)
		}
		netns[pod] = st
	}
	t.Cleanup(func() {
		// On a failure, the test ends what it started itself.
		for _, mark := range marks {
			for _, pid := range processesRunning("sleep", mark) {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})

	e.must("delete", "pod", "deleted", "--grace-period", "0", "--name", e.name)
	gone(t, "after the pod was deleted", marks["deleted"], netns["deleted"])

	// A lab process that died leaves its programs running; down finds them.
	pid, err := os.ReadFile(filepath.Join(e.dirs[3], e.name, "lab.pid"))
	if err != nil {
		t.Fatal(err)
	}
	lp, _ := strconv.Atoi(strings.TrimSpace(string(pid)))
	if lp <= 1 {
		t.Fatalf("lab.pid says %q", pid)
	}
	syscall.Kill(lp, syscall.SIGKILL)
	for alive(lp) {
		time.Sleep(10 * time.Millisecond)
	}
	if !alive(detached["downed"]) {
		t.Fatal("the program ended with its lab process: down has nothing to find")
	}
	e.must("down", "--name", e.name)
	gone(t, "after kinn down", marks["downed"], netns["downed"])
}

// gone waits a little for the detached sleep and every process in the
// pod's namespace to end, and fails the test if some did not.
func gone(t *testing.T, when, mark string, netns os.FileInfo) {
	t.Helper()
	var left, inNetns []int
	for range 50 {
		left, inNetns = processesRunning("sleep", mark), processesIn(netns)
		if len(left) == 0 && len(inNetns) == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("%s: the detached sleep still runs (pids %v); processes in the pod's namespace: %v", when, left, inNetns)
}

// waitProcess waits for a process running exactly argv and returns its pid.
func waitProcess(t *testing.T, argv ...string) int {
	t.Helper()
	for range 100 {
		if pids := processesRunning(argv...); len(pids) == 1 {
			return pids[0]
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no process runs %q", argv)
	return 0
}

// processesRunning lists the live processes whose command line is argv.
func processesRunning(argv ...string) []int {
	want := strings.Join(argv, "\x00")
	var out []int
	for _, pid := range allPIDs() {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if strings.TrimRight(string(b), "\x00") == want && alive(pid) {
			out = append(out, pid)
		}
	}
	return out
}

// processesIn lists the live processes in the network namespace netns.
func processesIn(netns os.FileInfo) []int {
	var out []int
	for _, pid := range allPIDs() {
		if st, err := os.Stat(fmt.Sprintf("/proc/%d/ns/net", pid)); err == nil && os.SameFile(st, netns) && alive(pid) {
			out = append(out, pid)
		}
	}
	return out
}

func allPIDs() []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

// alive: a zombie counts as gone.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(rest, "Z")
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// whoami is a program that tells over HTTP, on port 80, who it runs as
// and what it can see and do. Python, as the host has it: the program
// has nothing of kinn's to run.
const whoami = `python3 -c '
import http.server, json, os
def readable(p):
    try:
        open(p).close()
        return True
    except OSError:
        return False
def status(k):
    for l in open("/proc/self/status"):
        if l.startswith(k + ":"):
            return l.split()[1]
def ls(d):
    try:
        return sorted(os.listdir(d))
    except OSError as e:
        return [str(e)]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        b = json.dumps({"uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(), "pid": os.getpid(),
            "capEff": status("CapEff"), "capBnd": status("CapBnd"), "noNewPrivs": status("NoNewPrivs"),
            "shadow": readable("/etc/shadow"), "etcWritable": os.access("/etc", os.W_OK),
            "tmpWritable": os.access("/tmp", os.W_OK), "netns": ls("/run/netns"),
            "procs": [p for p in os.listdir("/proc") if p.isdigit()], "links": ls("/sys/class/net"),
            "home": os.environ.get("HOME"), "cwd": os.getcwd()}).encode()
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b)
    def log_message(self, *a):
        pass
http.server.HTTPServer(("", 80), H).serve_forever()
'`

// identity is what whoami says.
type identity struct {
	UID, GID    int
	Groups      []int
	PID         int
	CapEff      string
	CapBnd      string
	NoNewPrivs  string
	Shadow      bool
	EtcWritable bool
	TmpWritable bool
	Netns       []string
	Procs       []string
	Links       []string
	Home        string
	Cwd         string
}

// TestProgramPrivileges: a program runs as nobody with no capability by
// default, as its securityContext says otherwise (container over pod), on
// a read-only host filesystem with a private /tmp, its own /proc and its
// pod's /sys, and sees no namespace names; and still serves port 80.
func TestProgramPrivileges(t *testing.T) {
	e := newEnv(t, "privs")
	pods := map[string]string{
		"nobody": "{containers: [{name: c, image: x}]}",
		"ids": "{securityContext: {runAsUser: 1000, runAsGroup: 3000}, containers: [{name: c, image: x," +
			" securityContext: {runAsUser: 2000, capabilities: {add: [NET_BIND_SERVICE]}}}]}",
		"root": "{securityContext: {runAsUser: 0}, containers: [{name: c, image: x}]}",
		"priv": "{containers: [{name: c, image: x, securityContext: {privileged: true}}]}",
	}
	var doc strings.Builder
	doc.WriteString("kind: Cluster\napiVersion: kinn.dev/v1alpha1\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: client}\nspec: {containers: [{name: c, image: x}]}\n")
	for name, spec := range pods {
		fmt.Fprintf(&doc, "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n  annotations: {kinn.dev/run: %s}\nspec: %s\n", name, jsonString(whoami), spec)
	}
	f := filepath.Join(t.TempDir(), "privs.yaml")
	os.WriteFile(f, []byte(doc.String()), 0o644)
	_, errOut, code := e.run("up", "--name", e.name, "-f", f)
	if code != 0 {
		t.Fatalf("up: exit %d\n%s", code, errOut)
	}
	// up says which pods run programs, and which of them with root's powers.
	for _, want := range []string{"note: 4 pods run a program", "default/priv (privileged", "default/root (runAsUser 0"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("up does not say %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, "default/nobody (") || strings.Contains(errOut, "default/ids (") {
		t.Errorf("up names an unprivileged pod as powerful:\n%s", errOut)
	}

	hostBnd := statusField(t, "CapBnd")
	ask := func(pod string) identity {
		t.Helper()
		url := "http://" + e.podIP(pod) + ":80/"
		var body string
		code := 1
		for i := 0; i < 50 && code != 0; i++ {
			if body, code = e.curl("client", url); code != 0 {
				time.Sleep(100 * time.Millisecond)
			}
		}
		if code != 0 {
			log, _ := os.ReadFile(filepath.Join(e.dirs[3], e.name, "lab.log"))
			t.Fatalf("pod %s's program does not answer on port 80 (curl exit %d); lab log:\n%s", pod, code, log)
		}
		var id identity
		if err := json.Unmarshal([]byte(body), &id); err != nil {
			t.Fatalf("pod %s: %v: %q", pod, err, body)
		}
		t.Logf("%s: %+v", pod, id)
		return id
	}

	t.Run("default", func(t *testing.T) {
		id := ask("nobody")
		if id.UID != 65534 || id.GID != 65534 || len(id.Groups) != 0 {
			t.Errorf("runs as uid %d gid %d groups %v, want 65534 65534 and none", id.UID, id.GID, id.Groups)
		}
		if id.CapEff != zeroCaps || id.CapBnd != zeroCaps || id.NoNewPrivs != "1" {
			t.Errorf("CapEff %s CapBnd %s NoNewPrivs %s, want no capability and no_new_privs", id.CapEff, id.CapBnd, id.NoNewPrivs)
		}
		if id.Shadow {
			t.Error("the program reads /etc/shadow")
		}
		if id.EtcWritable || !id.TmpWritable {
			t.Errorf("/etc writable %v, /tmp writable %v; want a read-only host and a writable /tmp", id.EtcWritable, id.TmpWritable)
		}
		if len(id.Netns) != 0 {
			t.Errorf("the program sees namespaces in /run/netns: %v", id.Netns)
		}
		// Its own PID namespace: kinn's init (1) and the program (a small
		// number: the init's threads took the first ones).
		if id.PID == 1 || id.PID > 100 || !slices.Equal(id.Procs, []string{"1", strconv.Itoa(id.PID)}) {
			t.Errorf("the program is pid %d and sees processes %v, want itself and kinn's init (1) alone", id.PID, id.Procs)
		}
		if want := podLinks(t, "kinn."+e.name+".pod.default.nobody"); !slices.Equal(id.Links, want) {
			t.Errorf("/sys/class/net shows %v, want the pod's %v", id.Links, want)
		}
		if id.Home != "/nonexistent" && id.Home != "/" {
			t.Errorf("HOME=%q, want nobody's", id.Home)
		}
		// Not the lab process's directory, which a private /tmp may hide.
		if id.Cwd != "/" {
			t.Errorf("the program starts in %q, want / (no workingDir)", id.Cwd)
		}
	})
	t.Run("runAsUser and capabilities", func(t *testing.T) {
		id := ask("ids")
		if id.UID != 2000 || id.GID != 3000 {
			t.Errorf("runs as %d:%d, want the container's runAsUser 2000 and the pod's runAsGroup 3000", id.UID, id.GID)
		}
		if id.CapEff != "0000000000000400" || id.CapBnd != "0000000000000400" {
			t.Errorf("CapEff %s CapBnd %s, want NET_BIND_SERVICE (0x400) alone", id.CapEff, id.CapBnd)
		}
	})
	t.Run("root", func(t *testing.T) {
		id := ask("root")
		if id.UID != 0 || id.GID != 0 {
			t.Errorf("runs as %d:%d, want 0:0", id.UID, id.GID)
		}
		if id.CapEff != zeroCaps || id.CapBnd != zeroCaps {
			t.Errorf("root has CapEff %s CapBnd %s, want none", id.CapEff, id.CapBnd)
		}
		if id.EtcWritable {
			t.Error("root writes /etc: the host's filesystem is not read-only")
		}
	})
	t.Run("privileged", func(t *testing.T) {
		id := ask("priv")
		if id.UID != 65534 || id.CapEff != hostBnd || id.NoNewPrivs != "0" {
			t.Errorf("uid %d CapEff %s NoNewPrivs %s, want 65534 with every capability (%s)", id.UID, id.CapEff, id.NoNewPrivs, hostBnd)
		}
		if len(id.Netns) != 0 {
			t.Errorf("the program sees namespaces in /run/netns: %v", id.Netns)
		}
	})
}

const zeroCaps = "0000000000000000"

// statusField is a field of the test's own /proc/self/status.
func statusField(t *testing.T, key string) string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, key+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no %s in /proc/self/status", key)
	return ""
}

// podLinks are the interfaces of a pod's namespace as its sysfs shows them.
func podLinks(t *testing.T, netns string) []string {
	out, err := exec.Command("ip", "netns", "exec", netns, "ls", "/sys/class/net").Output()
	if err != nil {
		t.Fatalf("list %s's links: %v", netns, err)
	}
	links := strings.Fields(string(out))
	slices.Sort(links)
	return links
}
