package kernel

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
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

// PodViewVerb is the hidden kinn command that sets a pod's view up.
const PodViewVerb = "pod-view"

// PodView is what a pod's processes see.
type PodView struct {
	ResolvConf string // file bound over /etc/resolv.conf
	Hosts      string // file bound over /etc/hosts
	Hostname   string
}

// Command runs argv with the pod's view: kinn re-run as PodViewVerb in new
// mount and UTS namespaces (Go makes the new mount tree private, so no
// mount propagates back to the host).
func (v PodView) Command(argv []string) (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := []string{exe, PodViewVerb, "--resolv", v.ResolvConf, "--hosts", v.Hosts, "--hostname", v.Hostname, "--"}
	cmd := &exec.Cmd{Path: exe, Args: append(args, argv...)}
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: unix.CLONE_NEWNS | unix.CLONE_NEWUTS}
	return cmd, nil
}

// Enter is PodViewVerb's work in the child: bind the files, set the
// hostname, and replace the process with argv.
func (v PodView) Enter(argv []string) error {
	if len(argv) == 0 {
		return errors.New("pod-view: no command")
	}
	// Only ever in namespaces of its own, which its parent (kinn) does not
	// share: run by hand in the host's, the binds would cover the host's
	// /etc and the hostname would be the host's.
	parent := fmt.Sprintf("/proc/%d/ns/", os.Getppid())
	for _, ns := range []string{"mnt", "uts"} {
		self, err1 := os.Stat("/proc/self/ns/" + ns)
		up, err2 := os.Stat(parent + ns)
		if err1 != nil || err2 != nil || os.SameFile(self, up) {
			return fmt.Errorf("pod-view: refusing to run outside a private %s namespace (kinn exec starts it in one)", ns)
		}
	}
	for _, m := range [][2]string{{v.ResolvConf, "/etc/resolv.conf"}, {v.Hosts, "/etc/hosts"}} {
		if m[0] == "" {
			continue
		}
		if _, err := os.Stat(m[1]); err != nil {
			continue // a host without the file: nothing to cover
		}
		if err := unix.Mount(m[0], m[1], "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("pod-view: bind %s over %s: %w", m[0], m[1], err)
		}
	}
	if v.Hostname != "" {
		if err := unix.Sethostname([]byte(v.Hostname)); err != nil {
			return fmt.Errorf("pod-view: hostname: %w", err)
		}
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return err
	}
	return syscall.Exec(path, argv, os.Environ())
}
