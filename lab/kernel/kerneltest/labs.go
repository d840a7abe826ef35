package kerneltest

// Test labs outlive a killed test binary: `go test -timeout` panics it, a
// CI runner SIGKILLs it, and no t.Cleanup runs. So every test that creates
// namespaces or a lab registers it first, under a directory of its test
// process in Root, and the next test process on the machine removes what
// dead ones left.
//
// Whether a test process is dead is decided by a lock, not by its pid: the
// process holds an exclusive flock on its directory for as long as the
// directory exists (it removes it, empty, when its last lab is gone), and
// the kernel drops the lock when the process ends, however it ends. Its
// children do not inherit it (the descriptor is close-on-exec), so a lab
// process left running does not keep its test "alive". Suites running side
// by side skip each other's directories, whose locks are held, and two
// sweepers cannot both remove one directory, since only one gets its lock.
// Labs not made through NewLab (a user's, another tool's) are never looked at.

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Root holds a directory per running test process (named for its pid), with
// a directory per lab it made inside. It is on /run, as the namespaces are:
// a reboot clears both.
const Root = "/run/kinn-tests"

// labDirPrefix marks a lab's directory inside a process directory.
const labDirPrefix = "lab-"

// newDirPrefix marks a process directory being set up, not yet locked.
const newDirPrefix = ".new-"

// Lab is what one test creates on the machine: namespaces named
// kinn.<Name>.*, processes started for it, and its state and runtime
// directories.
type Lab struct {
	Name     string
	StateDir string // for --state-dir / lab.Options.StateRoot
	RunDir   string // for --run-dir / lab.Options.RuntimeRoot
	dir      string
}

// Netns is the name of one of the lab's namespaces.
func (l *Lab) Netns(suffix string) string { return l.NetnsPrefix() + suffix }

// NetnsPrefix starts the name of every namespace of the lab.
func (l *Lab) NetnsPrefix() string { return "kinn." + l.Name + "." }

// NewLab registers a lab for tb under a unique name made from prefix, with
// empty state and runtime directories. When tb ends, after the test's own
// cleanups (registered later, so run first), it removes whatever of the
// lab is left; if the test process dies first, a later test process does.
// It skips tb without root.
func NewLab(tb testing.TB, prefix string) *Lab {
	tb.Helper()
	RequireRoot(tb)
	l, err := newLab(prefix)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if left := removeLab(l.Name, l.dir); len(left) > 0 {
			tb.Logf("removed what the test left of lab %s: %s", l.Name, strings.Join(left, "; "))
		}
		ReleaseProcessDir()
	})
	return l
}

// newLab makes the lab's directories, under the lock that keeps
// ReleaseProcessDir from removing the process directory meanwhile.
func newLab(prefix string) (*Lab, error) {
	owner.mu.Lock()
	defer owner.mu.Unlock()
	dir, err := processDir()
	if err != nil {
		return nil, err
	}
	l := &Lab{Name: UniqueName(prefix)}
	l.dir = filepath.Join(dir, labDirPrefix+l.Name)
	l.StateDir, l.RunDir = filepath.Join(l.dir, "state"), filepath.Join(l.dir, "run")
	for _, d := range []string{l.StateDir, l.RunDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	return l, nil
}

var owner struct {
	mu   sync.Mutex
	dir  string
	lock *os.File // its flock says this process lives
}

// ProcessDir is this test process's directory in Root, for anything that
// should go when the process does (a binary built for the tests, say);
// ReleaseProcessDir removes it once empty. Claiming it first removes what
// dead test processes left. Needs root.
func ProcessDir() (string, error) {
	owner.mu.Lock()
	defer owner.mu.Unlock()
	return processDir()
}

func processDir() (string, error) {
	if owner.dir != "" {
		return owner.dir, nil
	}
	if err := os.MkdirAll(Root, 0o755); err != nil {
		return "", err
	}
	Sweep()
	dir, lock, err := claim()
	if err != nil {
		return "", err
	}
	owner.dir, owner.lock = dir, lock
	return dir, nil
}

// ReleaseProcessDir removes this process's directory if nothing is left in
// it, so a finished suite leaves nothing behind; the next ProcessDir or
// NewLab makes a new one.
func ReleaseProcessDir() {
	owner.mu.Lock()
	defer owner.mu.Unlock()
	if owner.dir != "" && os.Remove(owner.dir) == nil {
		owner.lock.Close()
		owner.dir, owner.lock = "", nil
	}
}

// claim makes this process's directory and locks it before giving it its
// name, so a sweeper never sees it unlocked.
func claim() (string, *os.File, error) {
	tmp, err := os.MkdirTemp(Root, newDirPrefix)
	if err != nil {
		return "", nil, err
	}
	f, err := os.Open(tmp)
	if err == nil {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	}
	dir := filepath.Join(Root, fmt.Sprintf("%d-%s", os.Getpid(), filepath.Base(tmp)[len(newDirPrefix):]))
	if err == nil {
		err = os.Rename(tmp, dir)
	}
	if err == nil {
		err = os.Chmod(dir, 0o755) // a binary built here may run as nobody
	}
	if err != nil {
		os.RemoveAll(tmp)
		return "", nil, fmt.Errorf("test process directory: %w", err)
	}
	return dir, f, nil
}

// Sweep removes the labs of test processes that are gone: their lab
// processes and any process inside their namespaces, the namespaces, and
// their directories. It reports what it removed.
func Sweep() []string {
	ents, _ := os.ReadDir(Root)
	var removed []string
	for _, e := range ents {
		dir := filepath.Join(Root, e.Name())
		if strings.HasPrefix(e.Name(), newDirPrefix) {
			// A process killed while claiming: empty, and old by now.
			if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > time.Minute {
				os.Remove(dir)
			}
			continue
		}
		f, err := os.Open(dir)
		if err != nil {
			continue
		}
		if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
			f.Close() // its process lives
			continue
		}
		labs, _ := os.ReadDir(dir)
		for _, l := range labs {
			if name, ok := strings.CutPrefix(l.Name(), labDirPrefix); ok && l.IsDir() {
				left := removeLab(name, filepath.Join(dir, l.Name()))
				removed = append(removed, fmt.Sprintf("lab %s (%s)", name, strings.Join(left, "; ")))
			}
		}
		os.RemoveAll(dir)
		f.Close()
	}
	if len(removed) > 0 {
		fmt.Fprintf(os.Stderr, "kerneltest: removed test labs left by dead test processes: %s\n", strings.Join(removed, ", "))
	}
	return removed
}

// removeLab removes what is left of one lab and says what that was.
// Processes go first: a lab process would otherwise repair what is being
// removed, and a process inside a namespace keeps it alive.
func removeLab(name, dir string) []string {
	prefix := "kinn." + name + "."
	var left []string
	var nsNames []string
	nsIDs := map[[2]uint64]bool{}
	for _, ns := range Namespaces(prefix) {
		nsNames = append(nsNames, ns)
		if id, ok := nsfsID(filepath.Join("/run/netns", ns)); ok {
			nsIDs[id] = true
		}
	}
	if pids := labProcesses(dir+"/", nsIDs); len(pids) > 0 {
		left = append(left, fmt.Sprintf("processes %v", pids))
		killAll(pids)
	}
	if len(nsNames) > 0 {
		left = append(left, fmt.Sprintf("namespaces %v", nsNames))
	}
	for _, ns := range nsNames {
		deleteNetns(filepath.Join("/run/netns", ns))
	}
	os.RemoveAll(dir)
	return left
}

// labProcesses lists the processes that belong to a lab: those with an
// argument inside its directory (its lab process: --run-dir DIR/run), and
// those whose network namespace is one of its namespaces (pod programs, a
// `kinn exec`).
func labProcesses(dirPrefix string, nsIDs map[[2]uint64]bool) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		mine := false
		if id, ok := nsfsID(filepath.Join("/proc", e.Name(), "ns", "net")); ok && nsIDs[id] {
			mine = true
		}
		if b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline")); err == nil {
			for _, a := range bytes.Split(b, []byte{0}) {
				mine = mine || bytes.HasPrefix(a, []byte(dirPrefix))
			}
		}
		if mine {
			out = append(out, pid)
		}
	}
	return out
}

// killAll SIGKILLs pids and waits (a few seconds at most) until they are
// gone or zombies.
func killAll(pids []int) {
	for _, pid := range pids {
		unix.Kill(pid, unix.SIGKILL)
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range pids {
		for running(pid) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func running(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses: "pid (comm) S ...".
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}

// nsfsID identifies the namespace at path (a bind mount or a /proc link):
// device and inode of the namespace filesystem.
func nsfsID(path string) ([2]uint64, bool) {
	var st, self unix.Stat_t
	if unix.Stat(path, &st) != nil || unix.Stat("/proc/self/ns/net", &self) != nil || st.Dev != self.Dev {
		return [2]uint64{}, false
	}
	return [2]uint64{st.Dev, st.Ino}, true
}

// deleteNetns unmounts and removes a named namespace, as kinn down does
// (kerneltest cannot import package kernel: kernel's tests import it).
func deleteNetns(path string) {
	unix.Unmount(path, unix.MNT_DETACH)
	os.Remove(path)
}
