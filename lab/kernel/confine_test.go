package kernel

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"kinn.dev/kinn/lab/kernel/kerneltest"
)

func TestConfinementCaps(t *testing.T) {
	t.Parallel()
	c := &Confinement{Caps: []string{"NET_RAW", "cap_net_bind_service", "NET_RAW"}}
	got, err := c.ambient()
	if err != nil || !slices.Equal(got, []uintptr{10, 13}) {
		t.Errorf("ambient = %v, %v; want [10 13] (NET_BIND_SERVICE, NET_RAW)", got, err)
	}
	if err := (&Confinement{Caps: []string{"NET_BIND_SERVCE"}}).checkCaps(); err == nil {
		t.Error("a misspelt capability passed")
	}
	back, err := ParseConfinement(c.encode())
	if err != nil || !slices.Equal(back.Caps, c.Caps) {
		t.Errorf("round trip: %+v, %v", back, err)
	}
}

func TestUnescapeMount(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`/run/netns/a\040b`: "/run/netns/a b",
		`/x\134y`:           `/x\y`,
		`/plain`:            "/plain",
		`/short\04`:         `/short\04`,
	} {
		if got := unescapeMount(in); got != want {
			t.Errorf("unescapeMount(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRemountReadOnly: on kernels without mount_setattr, a program's view
// of the host is made read-only mount by mount; every mount below the
// directory becomes read-only and keeps its other flags. The test works in
// a mount namespace of its own, on one thread that it never hands back.
func TestRemountReadOnly(t *testing.T) {
	kerneltest.RequireRoot(t)
	dir := t.TempDir()
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			t.Errorf("unshare: %v", err)
			return
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			t.Errorf("make / private: %v", err)
			return
		}
		sub := filepath.Join(dir, "sub")
		if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=64k"); err != nil {
			t.Errorf("mount: %v", err)
			return
		}
		os.Mkdir(sub, 0o755)
		if err := unix.Mount("tmpfs", sub, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size=64k"); err != nil {
			t.Errorf("mount: %v", err)
			return
		}
		if err := remountReadOnly(dir, true); err != nil {
			t.Errorf("remountReadOnly: %v", err)
			return
		}
		for _, d := range []string{dir, sub} {
			if err := os.WriteFile(filepath.Join(d, "f"), nil, 0o644); !errors.Is(err, unix.EROFS) {
				t.Errorf("writing in %s: %v, want EROFS", d, err)
			}
		}
		var st unix.Statfs_t
		if err := unix.Statfs(sub, &st); err != nil || st.Flags&(unix.ST_NOSUID|unix.ST_NODEV) != unix.ST_NOSUID|unix.ST_NODEV {
			t.Errorf("%s lost nosuid or nodev: flags %#x, %v", sub, st.Flags, err)
		}
	}()
	<-done
	if _, err := os.Stat(filepath.Join(dir, "sub")); err == nil {
		t.Error("the test's mounts showed in the host's mount namespace")
	}
}
