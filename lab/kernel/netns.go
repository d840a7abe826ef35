// Package kernel is kinn's one door to the kernel: network namespaces,
// netlink (links, addresses, routes, neighbours, FDB) and sysctls. It turns
// the plan's data into kernel state and reads kernel state back into the
// plan's terms. Nothing outside this package imports netlink or netns.
//
// Namespace safety: work inside a namespace is done either through a netlink
// handle whose socket was opened in that namespace (usable from any thread),
// or on a locked OS thread that is switched back before it is unlocked; a
// thread that cannot be switched back stays locked and dies with its
// goroutine, so no goroutine ever runs in a foreign namespace by accident.
// kinn never creates, changes or deletes anything in the host's namespace.
package kernel

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// NetnsDir is where named namespaces live, as with `ip netns`, so learners
// can use `ip netns exec` on a lab's namespaces.
const NetnsDir = "/run/netns"

// NetnsPath is the bind-mount path of a named namespace.
func NetnsPath(name string) string { return filepath.Join(NetnsDir, name) }

// NetnsExists reports whether name is a mounted network namespace.
func NetnsExists(name string) bool { return IsNetns(NetnsPath(name)) }

// IsNetns reports whether path is a mounted namespace (nsfs), not a plain
// file left where one was.
func IsNetns(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && st.Type == unix.NSFS_MAGIC
}

// CreateNetns creates the named namespace unless it exists. The new
// namespace is made on a locked thread (unshare moves the calling thread
// into it), pinned by a bind mount, and the thread is switched back.
func CreateNetns(name string) (created bool, err error) {
	if NetnsExists(name) {
		return false, nil
	}
	unlock, err := holdNetnsDir()
	if err != nil {
		return false, err
	}
	defer unlock()
	path := NetnsPath(name)
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o444)
	if err != nil {
		return false, fmt.Errorf("create %s: %w", path, err)
	}
	f.Close()
	err = onThread(func() error { return unix.Unshare(unix.CLONE_NEWNET) }, func() error {
		return unix.Mount(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()), path, "", unix.MS_BIND, "")
	})
	if err != nil {
		os.Remove(path)
		return false, fmt.Errorf("create namespace %s: %w", name, err)
	}
	return true, nil
}

// DeleteNetns unmounts and removes a named namespace; a missing one is fine.
// The kernel frees the namespace (and its links) once nothing holds it. A
// name too long to be a file (recorded by a kinn that did not shorten pod
// namespace names) names nothing, so it is missing too.
func DeleteNetns(name string) error {
	path := NetnsPath(name)
	err := unix.Unmount(path, unix.MNT_DETACH)
	if errors.Is(err, unix.ENAMETOOLONG) {
		return nil
	}
	if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// isMountPoint reports whether path is a mount point (its device differs
// from its parent's, or it is bound onto itself: mountinfo says).
func isMountPoint(path string) bool {
	// This thread's view: /proc/self is the main thread's, which a locked
	// goroutine may have left in a mount namespace of its own.
	b, err := os.ReadFile("/proc/thread-self/mountinfo")
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 4 && f[4] == path {
			return true
		}
	}
	return false
}

// sharedNetnsDir makes NetnsDir a shared mount point, exactly as iproute2's
// `ip netns add` does before its first namespace. Otherwise a later
// `ip netns add` by the user bind-mounts the directory over itself, hiding
// every namespace kinn mounted under it: they would keep running, but
// could no longer be unmounted by their names.
var shared atomic.Bool

func sharedNetnsDir() error {
	if err := os.MkdirAll(NetnsDir, 0o755); err != nil {
		return err
	}
	// Two kinn processes binding at once would stack two mounts, and every
	// namespace mounted in between would then be mounted twice: unmounting
	// one name would leave the other busy. So only one at a time decides.
	unlock, err := lockNetnsParent()
	if err != nil {
		return err
	}
	defer unlock()
	if !isMountPoint(NetnsDir) {
		if err := unix.Mount(NetnsDir, NetnsDir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind %s: %w", NetnsDir, err)
		}
	}
	if err := unix.Mount("", NetnsDir, "none", unix.MS_SHARED|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make %s a shared mount point: %w", NetnsDir, err)
	}
	return nil
}

// lockNetnsParent serialises changes to NetnsDir's mount between kinn
// processes with an advisory lock on its parent directory, which leaves
// nothing behind.
func lockNetnsParent() (func(), error) { return flockNetnsParent(unix.LOCK_EX) }

func flockNetnsParent(how int) (func(), error) {
	f, err := os.Open(filepath.Dir(NetnsDir))
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// holdNetnsDir makes sure NetnsDir is kinn's shared mount point and keeps
// it so (a shared lock on its parent) until unlock: another kinn's
// RemoveNetnsDirIfEmpty, which takes the lock exclusively, cannot unmount
// it between this check and the namespace mounted under it. Without the
// lock, a namespace created just then landed in a plain directory.
func holdNetnsDir() (unlock func(), err error) {
	for {
		unlock, err := flockNetnsParent(unix.LOCK_SH)
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(NetnsDir); err == nil && shared.Load() {
			return unlock, nil
		}
		unlock() // sharedNetnsDir takes the lock exclusively
		if err := sharedNetnsDir(); err != nil {
			return nil, err
		}
		shared.Store(true) // once per process, or when the directory went
	}
}

// RemoveNetnsDirIfEmpty removes NetnsDir, and the mount point it is, when
// no namespace is left in it: a machine that had none before a lab has
// none after.
func RemoveNetnsDirIfEmpty() {
	unlock, err := lockNetnsParent()
	if err != nil {
		return
	}
	defer unlock()
	if ents, err := os.ReadDir(NetnsDir); err != nil || len(ents) > 0 {
		return
	}
	// No MNT_DETACH: if another lab mounted a namespace meanwhile, the
	// unmount fails busy instead of taking that namespace's name with it.
	if unix.Unmount(NetnsDir, 0) == nil || !isMountPoint(NetnsDir) {
		os.Remove(NetnsDir)
	}
}

// ListNetns lists named namespaces (mounted or left as empty files by a kill
// mid-creation) whose names start with prefix.
func ListNetns(prefix string) ([]string, error) {
	ents, err := os.ReadDir(NetnsDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix) {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// openNetns opens a named namespace's handle.
func openNetns(name string) (netns.NsHandle, error) {
	h, err := netns.GetFromPath(NetnsPath(name))
	if err != nil {
		return h, fmt.Errorf("open namespace %s: %w", name, err)
	}
	return h, nil
}

// Do runs f on a locked thread inside the named namespace (path if it
// contains a slash) and switches back afterwards.
func Do(name string, f func() error) error {
	path := name
	if !strings.Contains(name, "/") {
		path = NetnsPath(name)
	}
	target, err := netns.GetFromPath(path)
	if err != nil {
		return fmt.Errorf("open namespace %s: %w", name, err)
	}
	defer target.Close()
	return onThread(func() error { return netns.Set(target) }, f)
}

// onThread runs enter, which moves the calling thread into another network
// namespace, then f, on a locked thread of its own, and switches the thread
// back. A thread that cannot be switched back stays locked, so it dies with
// its goroutine instead of being reused in the wrong namespace.
func onThread(enter, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		if err := enter(); err != nil {
			// enter may have half-worked: restore before unlocking.
			if netns.Set(orig) == nil {
				runtime.UnlockOSThread()
			}
			errc <- fmt.Errorf("enter namespace: %w", err)
			return
		}
		ferr := f()
		if err := netns.Set(orig); err != nil {
			errc <- fmt.Errorf("switch back to the original namespace: %w", err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// NetnsID identifies the namespace mounted at name (its nsfs inode), so a
// holder of an old handle can tell that the name now means a new namespace
// (deleted by hand and created again); 0 if there is none.
func NetnsID(name string) uint64 {
	var st unix.Stat_t
	if err := unix.Stat(NetnsPath(name), &st); err != nil || st.Dev != nsfsDev() {
		return 0 // missing, or an empty file left by a kill mid-creation
	}
	return st.Ino
}

// nsfsDev is the device of the namespace filesystem: one stat per check
// instead of a stat and a statfs (the lab process checks every pod every
// second).
var nsfsDev = sync.OnceValue(func() uint64 {
	var st unix.Stat_t
	unix.Stat("/proc/self/ns/net", &st)
	return st.Dev
})
