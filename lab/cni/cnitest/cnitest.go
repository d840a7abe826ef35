// Package cnitest builds the CNI reference plugins
// (github.com/containernetworking/plugins) for tests, unmodified, from the
// module proxy, the way the README tells users to; and flannel's plugin
// from the unmodified copy in testdata (the proxy does not serve it).
package cnitest

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"kinn.dev/kinn/lab/kernel/kerneltest"
)

// Version of the reference plugins the tests run.
const Version = "v1.10.0"

// Packages of the plugins the tests use, by plugin type.
var Packages = map[string]string{
	"bridge":     "github.com/containernetworking/plugins/plugins/main/bridge",
	"ptp":        "github.com/containernetworking/plugins/plugins/main/ptp",
	"host-local": "github.com/containernetworking/plugins/plugins/ipam/host-local",
	"portmap":    "github.com/containernetworking/plugins/plugins/meta/portmap",
	"sbr":        "github.com/containernetworking/plugins/plugins/meta/sbr",
	"bandwidth":  "github.com/containernetworking/plugins/plugins/meta/bandwidth",
}

var (
	once   sync.Once
	binDir string
	err    error
	out    []byte
)

// Plugins builds every plugin in Packages once per test binary and returns
// the directory holding them, shared by the binary's tests (so callers must
// not write into it) and removed by Cleanup. As root it is in the test
// process's directory, which a later run removes if this one is killed.
func Plugins(t testing.TB) string {
	t.Helper()
	once.Do(func() {
		parent := ""
		if os.Geteuid() == 0 {
			if parent, err = kerneltest.ProcessDir(); err != nil {
				return
			}
		}
		binDir, err = os.MkdirTemp(parent, "kinn-cni-plugins-")
		if err != nil {
			return
		}
		args := []string{"install"}
		for _, pkg := range Packages {
			args = append(args, pkg+"@"+Version)
		}
		cmd := exec.Command("go", args...)
		cmd.Env = append(os.Environ(), "GOBIN="+binDir, "GOFLAGS=", "CGO_ENABLED=0")
		cmd.Dir = binDir // outside any module: `go install pkg@version`
		out, err = cmd.CombinedOutput()
	})
	if err != nil {
		t.Fatalf("build the reference CNI plugins: %v\n%s", err, out)
	}
	return binDir
}

// Cleanup removes the built plugins; call it from TestMain after m.Run.
func Cleanup() {
	if binDir != "" {
		os.RemoveAll(binDir)
		kerneltest.ReleaseProcessDir()
	}
}

var (
	flannelOnce sync.Once
	flannelErr  error
	flannelOut  []byte
)

// buildFlannel builds flannel's plugin into the plugins' directory.
func buildFlannel(t testing.TB) {
	t.Helper()
	dir := Plugins(t)
	flannelOnce.Do(func() {
		_, here, _, _ := runtime.Caller(0)
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "flannel"), ".")
		cmd.Env = append(os.Environ(), "GOFLAGS=", "CGO_ENABLED=0")
		cmd.Dir = filepath.Join(filepath.Dir(here), "testdata", "flannel-cni-plugin")
		flannelOut, flannelErr = cmd.CombinedOutput()
	})
	if flannelErr != nil {
		t.Fatalf("build flannel's CNI plugin: %v\n%s", flannelErr, flannelOut)
	}
}

// Link puts the named plugins into a fresh directory of the test's, as
// symlinks to the built ones; the test may add files of its own there.
func Link(t testing.TB, types ...string) string {
	t.Helper()
	src := Plugins(t)
	dir := t.TempDir()
	for _, typ := range types {
		if typ == "flannel" {
			buildFlannel(t)
		}
		if err := os.Symlink(filepath.Join(src, typ), filepath.Join(dir, typ)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
