package lab

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kinn.dev/kinn/lab/cni/cnitest"
	"kinn.dev/kinn/lab/kernel/kerneltest"
	"kinn.dev/kinn/topology"
)

// BenchmarkReattach is the CNI developer's loop after `go build`: DEL and
// ADD all 100 pods of a two-node lab through the reference bridge and
// host-local plugins, run as binaries (`go test -bench Reattach ./lab`).
func BenchmarkReattach(b *testing.B) {
	l := kerneltest.NewLab(b, "reat")
	defer cnitest.Cleanup()
	dir := b.TempDir()
	if err := os.Symlink(cnitest.Plugins(b), filepath.Join(dir, "bin")); err != nil {
		b.Fatal(err)
	}
	name := l.Name
	doc := kerneltest.Topology(name, 2, 100)
	doc = strings.Replace(doc, "apiVersion: kinn.dev/v1alpha1\n", `apiVersion: kinn.dev/v1alpha1
cni:
  binDir: bin
  confList: '{"cniVersion": "1.1.0", "name": "bench", "plugins": [{"type": "bridge", "bridge": "cni0", "isGateway": true,
    "ipam": {"type": "host-local", "ranges": [[{"subnet": "{{.PodCIDR}}"}]], "routes": [{"dst": "0.0.0.0/0"}]}}]}'
`, 1)
	file := filepath.Join(dir, "lab.yaml")
	t, _, err := topology.Parse(file, []byte(doc))
	if err != nil {
		b.Fatal(err)
	}
	o := Options{StateRoot: l.StateDir, RuntimeRoot: l.RunDir}
	b.Cleanup(func() { Down(context.Background(), o, name) })
	if _, err := Up(context.Background(), o, Source{Lab: t, Raw: []byte(doc), Path: file}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		res, _, err := Reattach(context.Background(), o, name, nil)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
		}
		if len(res) != 100 {
			b.Fatalf("reattached %d pods", len(res))
		}
	}
}
