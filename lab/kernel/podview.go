package kernel

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// A pod's view of the machine beyond its network: its own hostname and the
// resolv.conf and /etc/hosts the kubelet would write, as `ip netns exec`
// shows /etc/netns/NAME/* over /etc. The command runs through kinn itself
// (PodViewVerb), started in fresh mount and UTS namespaces: it bind-mounts
// the pod's files over /etc's and sets the hostname there, then execs the
// command. Nothing of the host's /etc changes, and the namespaces end with
// the command's last process.
//
// A kinn.dev/run program also gets a PID namespace of its own and runs
// confined (confine.go); `kinn exec` runs its command as root on the
// host's filesystem: it is the lab owner's tool, not the pod's program.
// Its /sys is the namespace's own, though, as with `ip netns exec`: sysfs
// shows the links of the network namespace that mounts it, and the host's
// /sys would list the host's interfaces, not the pod's or the node's.
// kinn exec node/NAME and --external come this way too, with no files and
// no hostname, for that /sys alone.

// PodViewVerb is the hidden kinn command that sets a pod's view up.
const PodViewVerb = "pod-view"

// PodView is what a pod's processes see.
type PodView struct {
	ResolvConf string // file bound over /etc/resolv.conf
	Hosts      string // file bound over /etc/hosts
	Hostname   string
	// Confine runs the command as a pod's program; nil for kinn exec.
	Confine *Confinement
}

// Command runs argv with the pod's view: kinn re-run as PodViewVerb in new
// mount and UTS namespaces (Go makes the new mount tree private, so no
// mount propagates back to the host), and a confined program also in a
// new PID namespace, whose init kinn is.
func (v PodView) Command(argv []string) (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := []string{exe, PodViewVerb, "--resolv", v.ResolvConf, "--hosts", v.Hosts, "--hostname", v.Hostname}
	attr := &syscall.SysProcAttr{Unshareflags: unix.CLONE_NEWNS | unix.CLONE_NEWUTS}
	if v.Confine != nil {
		if err := v.Confine.checkCaps(); err != nil {
			return nil, err
		}
		args = append(args, "--confine", v.Confine.encode())
		attr.Cloneflags = unix.CLONE_NEWPID
	}
	cmd := &exec.Cmd{Path: exe, Args: append(append(args, "--"), argv...), SysProcAttr: attr}
	return cmd, nil
}

// Enter is PodViewVerb's work in the child: bind the files, set the
// hostname, and replace the process with argv; or, for a confined
// program, start it and return its exit status when it ends.
func (v PodView) Enter(argv []string) (int, error) {
	if len(argv) == 0 {
		return 127, errors.New("pod-view: no command")
	}
	// Only ever in namespaces of its own, which its parent (kinn) does not
	// share: run by hand in the host's, the binds would cover the host's
	// /etc and the hostname would be the host's.
	parent := fmt.Sprintf("/proc/%d/ns/", parentPID())
	for _, ns := range []string{"mnt", "uts"} {
		self, err1 := os.Stat("/proc/self/ns/" + ns)
		up, err2 := os.Stat(parent + ns)
		if err1 != nil || err2 != nil || os.SameFile(self, up) {
			return 127, fmt.Errorf("pod-view: refusing to run outside a private %s namespace (kinn exec starts it in one)", ns)
		}
	}
	if v.Confine != nil && os.Getpid() != 1 {
		return 127, errors.New("pod-view: a confined program runs as the init of a PID namespace of its own (the lab process starts it in one)")
	}
	for _, m := range [][2]string{{v.ResolvConf, "/etc/resolv.conf"}, {v.Hosts, "/etc/hosts"}} {
		if m[0] == "" {
			continue
		}
		if _, err := os.Stat(m[1]); err != nil {
			continue // a host without the file: nothing to cover
		}
		if err := unix.Mount(m[0], m[1], "", unix.MS_BIND, ""); err != nil {
			return 127, fmt.Errorf("pod-view: bind %s over %s: %w", m[0], m[1], err)
		}
	}
	if v.Hostname != "" {
		if err := unix.Sethostname([]byte(v.Hostname)); err != nil {
			return 127, fmt.Errorf("pod-view: hostname: %w", err)
		}
	}
	if v.Confine != nil {
		return v.Confine.run(argv)
	}
	// The private mount namespace copied every lab's /run/netns mounts:
	// held by this command, another lab's deleted namespace would live on
	// (its veths and addresses too) for as long as the command runs.
	if err := detachNamespaces(); err != nil {
		return 127, fmt.Errorf("pod-view: %w", err)
	}
	if err := ownSysfs(secFlags); err != nil {
		// The host's /sys beats no command at all; say so.
		fmt.Fprintf(os.Stderr, "kinn exec: %v; the command sees the host's\n", err)
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return 127, err
	}
	return 127, syscall.Exec(path, argv, os.Environ())
}

// parentPID is the parent's pid as /proc (still the host's here) numbers
// it: in a new PID namespace getppid says 0, the parent being outside it.
func parentPID() int {
	b, err := os.ReadFile("/proc/self/stat")
	// PID (COMM) STATE PPID ...: COMM may hold anything but the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if err != nil || i < 0 {
		return os.Getppid()
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 2 {
		return os.Getppid()
	}
	ppid, err := strconv.Atoi(string(f[1]))
	if err != nil {
		return os.Getppid()
	}
	return ppid
}

// ownSysfs mounts, over /sys, a sysfs of the network namespace this
// process is in. Only in a private mount namespace: on the host's, it
// would cover the host's /sys.
func ownSysfs(flags uintptr) error {
	if err := unix.Mount("sysfs", "/sys", "sysfs", flags, ""); err != nil {
		return fmt.Errorf("the namespace's own /sys: %w", err)
	}
	return nil
}
