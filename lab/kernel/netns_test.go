package kernel

import (
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/vishvananda/netns"

	"kinn.dev/kinn/lab/kernel/kerneltest"
)

// TestNetnsLifecycle creates namespaces from many goroutines at once and
// checks that each is a real, distinct namespace, that no thread of the test
// was left outside the host namespace, and that delete removes the mount.
func TestNetnsLifecycle(t *testing.T) {
	prefix := kerneltest.NewLab(t, "kt").NetnsPrefix()
	t.Cleanup(func() {
		names, _ := ListNetns(prefix)
		for _, n := range names {
			DeleteNetns(n)
		}
		RemoveNetnsDirIfEmpty()
	})
	host, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := CreateNetns(prefix + string(rune('a'+i))); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	names, _ := ListNetns(prefix)
	if len(names) != 16 {
		t.Fatalf("got %d namespaces, want 16", len(names))
	}
	seen := map[string]bool{}
	for _, n := range names {
		h, err := netns.GetFromPath(NetnsPath(n))
		if err != nil {
			t.Fatal(err)
		}
		if h.Equal(host) {
			t.Fatalf("%s is the host namespace", n)
		}
		seen[h.UniqueId()] = true
		h.Close()
	}
	if len(seen) != 16 {
		t.Fatalf("namespaces are not distinct: %d unique", len(seen))
	}
	// kinn's namespaces live under a shared mount point, as iproute2 makes
	// it, so a user's `ip netns add` finds one and binds nothing over them.
	// (Not tried here: under a parallel test run it would race the other
	// packages' namespaces.)
	if !isMountPoint(NetnsDir) {
		b, _ := os.ReadFile("/proc/thread-self/mountinfo")
		t.Errorf("%s is not a mount point:\n%s", NetnsDir, grepLines(string(b), "netns"))
	}
	// A created-again namespace is left alone.
	if created, err := CreateNetns(names[0]); err != nil || created {
		t.Fatalf("second create: created=%v err=%v", created, err)
	}
	// After all this, every thread of the process is still in the host one.
	tasks, _ := os.ReadDir("/proc/self/task")
	for _, task := range tasks {
		h, err := netns.GetFromPath("/proc/self/task/" + task.Name() + "/ns/net")
		if err != nil {
			continue
		}
		if !h.Equal(host) {
			t.Errorf("thread %s was left in another namespace", task.Name())
		}
		h.Close()
	}
	for _, n := range names {
		if err := DeleteNetns(n); err != nil {
			t.Fatal(err)
		}
	}
	if m := kerneltest.Mounts(prefix); len(m) != 0 {
		t.Fatalf("mounts left: %v", m)
	}
	if err := DeleteNetns(names[0]); err != nil {
		t.Fatalf("deleting a missing namespace must succeed: %v", err)
	}
}

// TestDeleteNetnsTooLong: a name too long for a file, as kinn recorded for
// pods with long names before it shortened them, names no namespace, so
// deleting it succeeds and `down` can finish.
func TestDeleteNetnsTooLong(t *testing.T) {
	kerneltest.RequireRoot(t)
	prefix := "kinn." + kerneltest.UniqueName("kt") + "."
	// A namespace of the test's own, so that NetnsDir exists and the long
	// name is looked up in it.
	if _, err := CreateNetns(prefix + "switch"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		DeleteNetns(prefix + "switch")
		RemoveNetnsDirIfEmpty()
	})
	name := prefix + "pod.default." + strings.Repeat("p", 253)
	if err := DeleteNetns(name); err != nil {
		t.Errorf("DeleteNetns(%d-byte name) = %v, want nil", len(name), err)
	}
}

func grepLines(s, word string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, word) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
