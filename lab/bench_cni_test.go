package lab

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kinn.dev/kinn/lab/cni/cnitest"
	"kinn.dev/kinn/lab/kernel/kerneltest"
	"kinn.dev/kinn/topology"
)

// BenchmarkReattach is the CNI developer's loop after `go build`: DEL and
// ADD all 100 pods of a two-node lab through the reference bridge and
// host-local plugins, run as binaries (`go test -bench Reattach ./lab`).
func BenchmarkReattach(b *testing.B) {
	o, src := bridgeLab(b, "reat", 2, 100)
	name := src.Lab.Name
	if _, err := Up(context.Background(), o, src); err != nil {
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
		if len(res) != len(src.Lab.Pods) {
			b.Fatalf("reattached %d pods", len(res))
		}
	}
}

// BenchmarkChainUpDown brings the 100 bridge pods of BenchmarkReattach's lab
// up and takes them down: the down is DEL in containerd's order, with each
// pod's namespace present (`go test -bench ChainUpDown ./lab`).
func BenchmarkChainUpDown(b *testing.B) {
	o, src := bridgeLab(b, "chud", 2, 100)
	var up, down time.Duration
	for b.Loop() {
		t0 := time.Now()
		if _, err := Up(context.Background(), o, src); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := Down(context.Background(), o, src.Lab.Name); err != nil {
			b.Fatal(err)
		}
		up, down = up+t1.Sub(t0), down+time.Since(t1)
	}
	b.ReportMetric(up.Seconds()/float64(b.N), "up-s")
	b.ReportMetric(down.Seconds()/float64(b.N), "down-s")
}

// bridgeLab is a lab of nodes nodes and pods pods attached by the reference
// bridge and host-local binaries, not yet up.
func bridgeLab(b *testing.B, prefix string, nodes, pods int) (Options, Source) {
	l := kerneltest.NewLab(b, prefix)
	dir := b.TempDir()
	if err := os.Symlink(cnitest.Plugins(b), filepath.Join(dir, "bin")); err != nil {
		b.Fatal(err)
	}
	name := l.Name
	doc := kerneltest.Topology(name, nodes, pods)
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
	return o, Source{Lab: t, Raw: []byte(doc), Path: file}
}
