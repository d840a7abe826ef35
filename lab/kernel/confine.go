package kernel

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"runtime"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// A kinn.dev/run program is a stranger's server on a machine kinn runs as
// root, so it gets what a container runtime gives a pod's container and no
// more. The pod view's process (kinn pod-view, started in new mount, UTS
// and PID namespaces inside the pod's network namespace) is the PID
// namespace's init. As root it:
//
//   - sets net.ipv4.ip_unprivileged_port_start to 0 in the pod's network
//     namespace, as containerd and CRI-O do for pods, so a server that is
//     not root binds port 80 there (and only there);
//   - drops the private mount namespace's copies of nsfs mounts (the
//     /run/netns entries of every lab: a copy would keep those namespaces
//     alive as long as the program runs) and covers /run/netns, and the
//     directories the lab process names (kinn's state and runtime roots),
//     with empty read-only tmpfs;
//   - makes every mount read-only (mount_setattr, recursive, in its own
//     mount namespace only), then mounts a fresh /proc of the new PID
//     namespace (with runc's read-only and masked paths), a read-only sysfs
//     of the pod's network namespace on /sys, a minimal /dev (null, zero,
//     full, random, urandom, tty; /dev/shm), and a writable tmpfs on /tmp;
//   - looks the program up in PATH as its user would (the thread's fs ids
//     switched for the lookup alone), drops from the forking thread's
//     bounding set every capability the pod does not add, sets
//     no_new_privs, and starts the program with its uid and gid, no
//     supplementary groups, and the added capabilities as ambient ones,
//     which a program that is not root keeps across exec;
//   - reaps orphans, forwards SIGTERM and friends, and exits with the
//     program: the kernel then kills everything left in the PID namespace,
//     double-forked and setsid()ed daemons included.
//
// privileged: true keeps every capability (ambient, whoever the user),
// no_new_privs off, and the host's filesystem and /dev writable; the PID
// namespace, /proc, /sys and the hidden directories stay.
//
// Linux capabilities, credentials, no_new_privs and fs ids belong to a
// thread: the work happens on one locked thread, which forks the program.

// Confinement is how a pod's program runs: as whom, with what.
type Confinement struct {
	UID        uint32   `json:"uid"`
	GID        uint32   `json:"gid"`
	Caps       []string `json:"caps,omitempty"` // added capabilities: NET_BIND_SERVICE, CAP_NET_RAW, ALL
	Privileged bool     `json:"privileged,omitempty"`
	Hide       []string `json:"hide,omitempty"` // directories the program must not see
	// WorkDir is where the program starts, as a container starts in its
	// workingDir: never the lab process's own directory, which the
	// program's view may hide (a private /tmp) or its user not enter.
	WorkDir string `json:"workDir,omitempty"`
}

// encode and ParseConfinement carry a confinement on pod-view's command line.
func (c *Confinement) encode() string {
	b, _ := json.Marshal(c)
	return string(b)
}

// ParseConfinement reads pod-view's --confine.
func ParseConfinement(s string) (*Confinement, error) {
	var c Confinement
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		return nil, fmt.Errorf("pod-view: --confine: %w", err)
	}
	return &c, nil
}

// capsByName are Linux's capabilities by their Kubernetes names.
var capsByName = map[string]uintptr{
	"CHOWN": unix.CAP_CHOWN, "DAC_OVERRIDE": unix.CAP_DAC_OVERRIDE, "DAC_READ_SEARCH": unix.CAP_DAC_READ_SEARCH,
	"FOWNER": unix.CAP_FOWNER, "FSETID": unix.CAP_FSETID, "KILL": unix.CAP_KILL, "SETGID": unix.CAP_SETGID,
	"SETUID": unix.CAP_SETUID, "SETPCAP": unix.CAP_SETPCAP, "LINUX_IMMUTABLE": unix.CAP_LINUX_IMMUTABLE,
	"NET_BIND_SERVICE": unix.CAP_NET_BIND_SERVICE, "NET_BROADCAST": unix.CAP_NET_BROADCAST,
	"NET_ADMIN": unix.CAP_NET_ADMIN, "NET_RAW": unix.CAP_NET_RAW, "IPC_LOCK": unix.CAP_IPC_LOCK,
	"IPC_OWNER": unix.CAP_IPC_OWNER, "SYS_MODULE": unix.CAP_SYS_MODULE, "SYS_RAWIO": unix.CAP_SYS_RAWIO,
	"SYS_CHROOT": unix.CAP_SYS_CHROOT, "SYS_PTRACE": unix.CAP_SYS_PTRACE, "SYS_PACCT": unix.CAP_SYS_PACCT,
	"SYS_ADMIN": unix.CAP_SYS_ADMIN, "SYS_BOOT": unix.CAP_SYS_BOOT, "SYS_NICE": unix.CAP_SYS_NICE,
	"SYS_RESOURCE": unix.CAP_SYS_RESOURCE, "SYS_TIME": unix.CAP_SYS_TIME, "SYS_TTY_CONFIG": unix.CAP_SYS_TTY_CONFIG,
	"MKNOD": unix.CAP_MKNOD, "LEASE": unix.CAP_LEASE, "AUDIT_WRITE": unix.CAP_AUDIT_WRITE,
	"AUDIT_CONTROL": unix.CAP_AUDIT_CONTROL, "SETFCAP": unix.CAP_SETFCAP, "MAC_OVERRIDE": unix.CAP_MAC_OVERRIDE,
	"MAC_ADMIN": unix.CAP_MAC_ADMIN, "SYSLOG": unix.CAP_SYSLOG, "WAKE_ALARM": unix.CAP_WAKE_ALARM,
	"BLOCK_SUSPEND": unix.CAP_BLOCK_SUSPEND, "AUDIT_READ": unix.CAP_AUDIT_READ, "PERFMON": unix.CAP_PERFMON,
	"BPF": unix.CAP_BPF, "CHECKPOINT_RESTORE": unix.CAP_CHECKPOINT_RESTORE,
}

// checkCaps reports capability names kinn does not know.
func (c *Confinement) checkCaps() error {
	for _, name := range c.Caps {
		n := strings.TrimPrefix(strings.ToUpper(name), "CAP_")
		if _, ok := capsByName[n]; !ok && n != "ALL" {
			return fmt.Errorf("securityContext.capabilities.add: unknown capability %q", name)
		}
	}
	return nil
}

// ambient is the program's capabilities: every one this process may hand
// on for privileged or ALL, else the ones added.
func (c *Confinement) ambient() ([]uintptr, error) {
	if err := c.checkCaps(); err != nil {
		return nil, err
	}
	all := c.Privileged
	var caps []uintptr
	for _, name := range c.Caps {
		n := strings.TrimPrefix(strings.ToUpper(name), "CAP_")
		if n == "ALL" {
			all = true
			continue
		}
		caps = append(caps, capsByName[n])
	}
	if all {
		caps = nil
		for cp := uintptr(0); cp < 64; cp++ {
			// A capability this process lacks cannot be handed on.
			if in, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, cp, 0, 0, 0); err == nil && in == 1 {
				caps = append(caps, cp)
			}
		}
	}
	slices.Sort(caps)
	return slices.Compact(caps), nil
}

// run is pod-view's work for a program once its /etc and hostname are the
// pod's, as the init of a new PID namespace: it confines the program,
// waits for it, and returns its exit status.
func (c *Confinement) run(argv []string) (int, error) {
	caps, err := c.ambient()
	if err != nil {
		return 127, err
	}
	// Pods may bind ports below 1024 without privileges, as in Kubernetes.
	// The sysctl is the pod's network namespace's own.
	// (Kernels before 4.11 have no such sysctl: root alone binds them.)
	err = os.WriteFile("/proc/sys/net/ipv4/ip_unprivileged_port_start", []byte("0"), 0)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return 127, fmt.Errorf("pod-view: %w", err)
	}
	if err := c.mounts(); err != nil {
		return 127, fmt.Errorf("pod-view: %w", err)
	}
	// Never unlocked: the thread's credentials are not fit for anything
	// else, and it dies with the process.
	runtime.LockOSThread()
	path, err := c.lookPath(argv[0])
	if err != nil {
		return 127, err
	}
	if !c.Privileged {
		if err := dropBounding(caps); err != nil {
			return 127, fmt.Errorf("pod-view: %w", err)
		}
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return 127, fmt.Errorf("pod-view: no_new_privs: %w", err)
		}
	}
	dir := c.WorkDir
	if dir == "" {
		dir = "/"
	}
	cmd := &exec.Cmd{Path: path, Args: argv, Dir: dir, Env: c.env(), Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential:  &syscall.Credential{Uid: c.UID, Gid: c.GID},
		AmbientCaps: caps,
	}
	// Notified before the program exists: a signal in between is not lost.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2)
	if err := cmd.Start(); err != nil {
		return 127, err
	}
	go func() {
		for s := range sigs {
			cmd.Process.Signal(s)
		}
	}()
	return reap(cmd.Process.Pid), nil
}

// reap waits for every process the namespace's orphans leave to its init,
// until the program itself ends, and returns the program's exit status
// (128+n for a signal, as shells say).
func reap(program int) int {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, 0, nil)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return 127 // no child left: cannot happen while the program runs
		case pid != program:
			continue
		case ws.Signaled():
			return 128 + int(ws.Signal())
		default:
			return ws.ExitStatus()
		}
	}
}

// lookPath finds the program as its user would: on this (locked) thread,
// with its fs uid and gid for the time of the lookup, so that a PATH entry
// only root can search (/root/.local/bin) is passed over. Going to a fs
// uid other than 0 drops the thread's file capabilities; coming back
// restores them.
func (c *Confinement) lookPath(file string) (string, error) {
	unix.Setfsgid(int(c.GID))
	unix.Setfsuid(int(c.UID))
	defer func() {
		unix.Setfsuid(0)
		unix.Setfsgid(0)
	}()
	return exec.LookPath(file)
}

// dropBounding leaves only keep in this thread's bounding set, so not even
// a program running as root (or exec'ing a file with capabilities) gains
// another capability.
func dropBounding(keep []uintptr) error {
	for cp := uintptr(0); cp < 64; cp++ {
		if slices.Contains(keep, cp) {
			continue
		}
		err := unix.Prctl(unix.PR_CAPBSET_DROP, cp, 0, 0, 0)
		if errors.Is(err, unix.EINVAL) {
			return nil // past the kernel's last capability
		}
		if err != nil {
			return fmt.Errorf("drop capability %d: %w", cp, err)
		}
	}
	return nil
}

// env is the program's environment: the lab process's (with kinn's marks,
// by which `kinn down` finds programs) and its user's HOME, as a container
// runtime sets it from the user's passwd entry ("/" without one).
func (c *Confinement) env() []string {
	home := "/"
	if u, err := user.LookupId(fmt.Sprint(c.UID)); err == nil && u.HomeDir != "" {
		home = u.HomeDir
	}
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "HOME=") })
	return append(env, "HOME="+home)
}

// Mount flags of the program's own filesystems.
const (
	roFlags  = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	secFlags = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
)

// mounts builds the program's view of the filesystem, in pod-view's own
// mount namespace (private: nothing propagates to the host).
func (c *Confinement) mounts() error {
	if err := detachNamespaces(); err != nil {
		return err
	}
	for _, dir := range append([]string{NetnsDir}, c.Hide...) {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			continue
		}
		if err := unix.Mount("tmpfs", dir, "tmpfs", roFlags, "mode=755,size=4k"); err != nil {
			return fmt.Errorf("hide %s: %w", dir, err)
		}
	}
	if !c.Privileged {
		if err := readOnly("/", true); err != nil {
			return err
		}
	}
	if err := c.proc(); err != nil {
		return err
	}
	sysFlags := uintptr(secFlags)
	if !c.Privileged {
		sysFlags = roFlags
	}
	if err := ownSysfs(sysFlags); err != nil {
		// The host's /sys (read-only, but showing the host's links)
		// beats no program at all.
		fmt.Fprintf(os.Stderr, "kinn pod-view: %v; the program sees the host's\n", err)
	} else if !c.Privileged {
		if err := unix.Mount("tmpfs", "/sys/firmware", "tmpfs", roFlags, "size=4k"); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("mask /sys/firmware: %w", err)
		}
	}
	if c.Privileged {
		return nil
	}
	if err := devices(); err != nil {
		return err
	}
	if err := unix.Mount("tmpfs", "/tmp", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777"); err != nil {
		return fmt.Errorf("mount /tmp: %w", err)
	}
	return nil
}

// readOnly makes the mount at dir read-only (and every mount below it, if
// recursive) in this mount namespace alone: a per-mount flag, unlike a
// remount of the filesystem.
func readOnly(dir string, recursive bool) error {
	var flags uint
	if recursive {
		flags = unix.AT_RECURSIVE
	}
	err := unix.MountSetattr(-1, dir, flags, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY})
	if errors.Is(err, unix.ENOSYS) {
		err = remountReadOnly(dir, recursive) // before Linux 5.12
	}
	if err != nil {
		return fmt.Errorf("make %s read-only: %w", dir, err)
	}
	return nil
}

// remountReadOnly is readOnly for kernels without mount_setattr: a bind
// remount of each mount, parents first, keeping the flags it has (a
// remount sets them all).
func remountReadOnly(dir string, recursive bool) error {
	points, err := mountPoints(func(point, _ string) bool {
		return point == dir || recursive && (dir == "/" || strings.HasPrefix(point, dir+"/"))
	})
	if err != nil {
		return err
	}
	for _, p := range points {
		var st unix.Statfs_t
		if err := unix.Statfs(p, &st); err != nil {
			continue // gone, or covered by a later mount
		}
		keep := uintptr(st.Flags) & (unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME)
		err := unix.Mount("", p, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|keep, "")
		// EINVAL: p is no mount point any more where a later mount
		// covers it, and what covers it has its own line.
		if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("remount %s: %w", p, err)
		}
	}
	return nil
}

// detachNamespaces drops this mount namespace's nsfs mounts (the copies of
// /run/netns/* that unshare made), deepest first.
func detachNamespaces() error {
	points, err := mountPoints(func(_, fstype string) bool { return fstype == "nsfs" })
	if err != nil {
		return err
	}
	for _, p := range slices.Backward(points) {
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("detach %s: %w", p, err)
		}
	}
	return nil
}

// mountPoints lists this mount namespace's mount points that match, in
// mountinfo's order (a mount after the one it is mounted on).
func mountPoints(match func(point, fstype string) bool) ([]string, error) {
	f, err := os.Open("/proc/thread-self/mountinfo") // this thread's mount namespace
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var points []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		// ID PARENT MAJ:MIN ROOT POINT OPTIONS [TAGS...] - FSTYPE SOURCE SUPER
		fields := strings.Fields(sc.Text())
		sep := slices.Index(fields, "-")
		if len(fields) > 4 && sep > 4 && sep+1 < len(fields) {
			if p := unescapeMount(fields[4]); match(p, fields[sep+1]) {
				points = append(points, p)
			}
		}
	}
	return points, sc.Err()
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// Paths of /proc a container runtime (runc) makes read-only or masks:
// writable by root they reach the whole machine (/proc/sys/kernel,
// /proc/sysrq-trigger), readable they show its secrets (/proc/kcore).
var (
	procReadOnly = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
	procMasked   = []string{"/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
		"/proc/timer_stats", "/proc/sched_debug", "/proc/scsi"}
)

// proc mounts the PID namespace's own /proc.
func (c *Confinement) proc() error {
	if err := unix.Mount("proc", "/proc", "proc", secFlags, ""); err != nil {
		return fmt.Errorf("mount /proc: %w", err)
	}
	if c.Privileged {
		return nil
	}
	for _, p := range procReadOnly {
		if _, err := os.Stat(p); err != nil {
			continue
		}
		if err := unix.Mount(p, p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind %s: %w", p, err)
		}
		if err := readOnly(p, true); err != nil {
			return err
		}
	}
	for _, p := range procMasked {
		st, err := os.Stat(p)
		switch {
		case err != nil:
			continue
		case st.IsDir():
			err = unix.Mount("tmpfs", p, "tmpfs", roFlags, "size=4k")
		default:
			err = unix.Mount("/dev/null", p, "", unix.MS_BIND, "")
		}
		if err != nil {
			return fmt.Errorf("mask %s: %w", p, err)
		}
	}
	return nil
}

// devices mounts a /dev with the harmless devices alone: the host's has
// its disks, which a program running as root could open.
func devices() error {
	if err := unix.Mount("tmpfs", "/dev", "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC, "mode=755,size=64k"); err != nil {
		return fmt.Errorf("mount /dev: %w", err)
	}
	for name, dev := range map[string][2]uint32{
		"null": {1, 3}, "zero": {1, 5}, "full": {1, 7}, "random": {1, 8}, "urandom": {1, 9}, "tty": {5, 0},
	} {
		p := "/dev/" + name
		if err := unix.Mknod(p, unix.S_IFCHR|0o666, int(unix.Mkdev(dev[0], dev[1]))); err != nil {
			return fmt.Errorf("mknod %s: %w", p, err)
		}
		if err := os.Chmod(p, 0o666); err != nil { // past the umask
			return err
		}
	}
	for name, target := range map[string]string{
		"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2",
	} {
		if err := os.Symlink(target, "/dev/"+name); err != nil {
			return err
		}
	}
	if err := os.Mkdir("/dev/shm", 0o755); err != nil {
		return err
	}
	// Device nodes stay usable on a read-only mount; new ones cannot appear.
	if err := readOnly("/dev", false); err != nil {
		return err
	}
	if err := unix.Mount("tmpfs", "/dev/shm", "tmpfs", secFlags, "mode=1777"); err != nil {
		return fmt.Errorf("mount /dev/shm: %w", err)
	}
	return nil
}
