package kernel

// A node's private view of the filesystem, for the plugin binaries run on
// it. On a real node /run/flannel and /var/lib/cni are the node's own; kinn's
// nodes share the host's filesystem, which kinn must not change. So each
// plugin binary starts in a mount namespace of its own, made on a locked
// thread that then dies with its goroutine (a thread with another mount
// namespace and its own fs struct must never run other goroutines):
//
//   - propagation of every mount is made private first, so nothing done in
//     the view can reach the host's mount table;
//   - a target that exists (say /var/lib/cni) gets the node's directory
//     bind-mounted on it;
//   - a target that does not exist cannot be created on the host, so its
//     parent (/run for /run/flannel) is covered with a tmpfs in which every
//     entry of the real parent is bound back (directories recursively, so
//     /run/netns keeps its namespace mounts; files, sockets and symlinks as
//     they are), and only the target is new.
//
// The plugin's children (flannel's delegate bridge and host-local) inherit
// the view. It lives as long as they do: nothing is left to clean up.

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

// Bind makes Source appear at Target in a mount view.
type Bind struct {
	Target string // an absolute path as the plugin sees it, e.g. /run/flannel
	Source string // a directory on the host
}

// StartInView starts cmd with netns (a name under /run/netns or a path)
// as its network namespace and the binds applied in a mount namespace of
// its own. The caller waits for cmd as usual.
func StartInView(netns string, binds []Bind, cmd *exec.Cmd) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			// The main thread never exits (Go parks it instead), and
			// /proc/self is its view: hold it, so that the work lands on
			// another thread.
			defer runtime.UnlockOSThread()
			errc <- StartInView(netns, binds, cmd)
			return
		}
		// Never unlocked: the thread goes with this goroutine. So cmd
		// must not ask for Pdeathsig, which fires when the starting
		// thread exits.
		errc <- startInView(netns, binds, cmd)
	}()
	return <-errc
}

func startInView(netns string, binds []Bind, cmd *exec.Cmd) error {
	path := netns
	if !filepath.IsAbs(path) {
		path = NetnsPath(netns)
	}
	ns, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open namespace %s: %w", netns, err)
	}
	defer ns.Close()
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("new mount namespace: %w", err)
	}
	// Before anything is mounted: the host's mounts are shared under
	// systemd, and a shared mount would carry ours back to the host.
	// Slave, not private (as runc does): nothing of ours reaches the host,
	// and the host's unmounts still reach the view, so a view never keeps
	// alive a namespace unmounted from /run/netns (removing the file, as
	// `kinn down` does, detaches it everywhere anyway).
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
		return fmt.Errorf("make the plugin's mounts one-way: %w", err)
	}
	if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("enter namespace %s: %w", netns, err)
	}
	v := &view{covered: map[string]bool{}}
	for _, b := range binds {
		if err := v.bind(b); err != nil {
			return fmt.Errorf("node view: %s on %s: %w", b.Source, b.Target, err)
		}
	}
	return cmd.Start()
}

// view remembers which directories it covered with a tmpfs: those take new
// entries without touching the host.
type view struct{ covered map[string]bool }

func (v *view) bind(b Bind) error {
	if err := v.ensureDir(b.Target); err != nil {
		return err
	}
	return unix.Mount(b.Source, b.Target, "", unix.MS_BIND, "")
}

// ensureDir makes dir exist in the view, covering the nearest existing
// ancestor when it does not exist on the host.
func (v *view) ensureDir(dir string) error {
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a directory", dir)
		}
		return nil
	}
	parent := filepath.Dir(dir)
	if err := v.ensureDir(parent); err != nil {
		return err
	}
	if !v.covered[parent] {
		if err := cover(parent); err != nil {
			return err
		}
		v.covered[parent] = true
	}
	return os.Mkdir(dir, 0o755)
}

// cover puts a tmpfs on dir with every entry of the real dir bound back.
// The real dir stays reachable through a descriptor opened before.
func cover(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	opts := fmt.Sprintf("mode=%o", fi.Mode().Perm()|fi.Mode()&os.ModeSticky)
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		return fmt.Errorf("cover %s: %w", dir, err)
	}
	old := fmt.Sprintf("/proc/self/fd/%d", fd)
	for _, e := range entries {
		dst := filepath.Join(dir, e.Name())
		err := bindBack(filepath.Join(old, e.Name()), dst, e.Type())
		if errors.Is(err, unix.ENOENT) {
			// Gone since the listing (a pid or lock file, another lab's
			// namespace): the view simply lacks it too.
			os.Remove(dst)
			continue
		}
		if err != nil {
			return fmt.Errorf("cover %s: %w", dir, err)
		}
	}
	return nil
}

func bindBack(src, dst string, typ os.FileMode) error {
	switch {
	case typ&os.ModeSymlink != 0:
		l, err := os.Readlink(src)
		if err != nil {
			return err
		}
		return os.Symlink(l, dst)
	case typ.IsDir():
		if err := os.Mkdir(dst, 0o755); err != nil {
			return err
		}
	default:
		f, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return err
		}
		f.Close()
	}
	return unix.Mount(src, dst, "", unix.MS_BIND|unix.MS_REC, "")
}
