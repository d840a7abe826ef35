package kernel

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kinn.dev/kinn/lab/kernel/kerneltest"
)

// TestStartInView: a program started in a view sees the node's directory
// at a path that does not exist on the host (and at one that does), still
// sees the rest of /run (the namespace mounts under /run/netns included),
// runs in the node's network namespace, and the host's mounts and /run are
// as they were.
func TestStartInView(t *testing.T) {
	l := kerneltest.NewLab(t, "kmv")
	node := l.Netns("node")
	if _, err := CreateNetns(node); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { DeleteNetns(node) })
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "subnet.env"), []byte("FLANNEL_MTU=1450\n"), 0o644)
	missing := "/run/" + l.Name // exists nowhere on the host
	existing := t.TempDir()
	mountsBefore := hostMounts()

	script := `cat ` + missing + `/subnet.env ` + existing + `/subnet.env; test -e /run/netns/` + node + ` && echo netns-seen; ip -o link show | wc -l; echo > ` + missing + `/written`
	cmd := exec.Command("sh", "-c", script)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := StartInView(node, []Bind{{Target: missing, Source: src}, {Target: existing, Source: src}}, cmd)
	t.Logf("started in the view in %v", time.Since(start))
	if err == nil {
		err = cmd.Wait()
	}
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	want := "FLANNEL_MTU=1450\nFLANNEL_MTU=1450\nnetns-seen\n1\n" // only lo in a fresh namespace
	if strings.TrimSpace(strings.ReplaceAll(out.String(), " ", "")) != strings.TrimSpace(want) {
		t.Errorf("the program saw:\n%s\nwant:\n%s", out.String(), want)
	}
	if _, err := os.Stat(filepath.Join(src, "written")); err != nil {
		t.Errorf("a write in the view did not reach the node's directory: %v", err)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Errorf("%s appeared on the host", missing)
	}
	if after := hostMounts(); after != mountsBefore {
		t.Errorf("the host's mounts changed:\n%s", kerneltest.DiffLines(mountsBefore, after))
	}
}

// hostMounts is the host's mount table less the namespaces, which other
// tests create and delete meanwhile.
func hostMounts() string {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	var keep []string
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.Contains(l, " nsfs ") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// TestViewFollowsHostUnmounts: a namespace removed on the host (another
// lab's `kinn down`) leaves a running plugin's view too, so the view never
// keeps it alive. Removing the mount point's file detaches its mounts in
// every mount namespace (Linux 3.18 and later), which is what does it
// here; the view's mounts being slaves of the host's covers an unmount
// that leaves the file.
func TestViewFollowsHostUnmounts(t *testing.T) {
	l := kerneltest.NewLab(t, "kmvu")
	node, other := l.Netns("node"), l.Netns("other")
	for _, n := range []string{node, other} {
		if _, err := CreateNetns(n); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { DeleteNetns(n) })
	}
	cmd := exec.Command("sleep", "10")
	if err := StartInView(node, []Bind{{Target: "/run/" + l.Name, Source: t.TempDir()}}, cmd); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	seen := func() bool {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", cmd.Process.Pid))
		return strings.Contains(string(b), "/run/netns/"+other+" ")
	}
	if !seen() {
		t.Fatalf("the view lacks %s before it is deleted", other)
	}
	if err := DeleteNetns(other); err != nil {
		t.Fatal(err)
	}
	if seen() {
		t.Errorf("the view still mounts %s after the host removed it: it keeps the namespace alive", other)
	}
}
