package lab

import (
	"context"
	"fmt"
	"testing"
	"time"

	"kinn.dev/kinn/lab/kernel/kerneltest"
	"kinn.dev/kinn/topology"
)

// benchTopology is a lab of nodes nodes with podsPerNode pods on each.
func benchTopology(b *testing.B, name string, nodes, podsPerNode int) Source {
	doc := kerneltest.Topology(name, nodes, nodes*podsPerNode)
	t, _, err := topology.Parse("bench.yaml", []byte(doc))
	if err != nil {
		b.Fatal(err)
	}
	return Source{Lab: t, Raw: []byte(doc), Path: "bench.yaml"}
}

// BenchmarkUpDown brings a lab up from nothing and takes it down again,
// reporting each phase; `go test -bench UpDown ./lab` prints the figures
// the README quotes.
func BenchmarkUpDown(b *testing.B) {
	kerneltest.RequireRoot(b)
	for _, sz := range []struct{ nodes, pods int }{{10, 20}, {20, 50}} {
		b.Run(fmt.Sprintf("nodes=%d/pods=%d", sz.nodes, sz.nodes*sz.pods), func(b *testing.B) {
			l := kerneltest.NewLab(b, "bench")
			o := Options{StateRoot: l.StateDir, RuntimeRoot: l.RunDir}
			src := benchTopology(b, l.Name, sz.nodes, sz.pods)
			b.Cleanup(func() { Down(context.Background(), o, src.Lab.Name) })
			var up, down, again time.Duration
			for b.Loop() {
				t0 := time.Now()
				if _, err := Up(context.Background(), o, src); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if res, err := Up(context.Background(), o, src); err != nil || res.Changes+res.Attached != 0 {
					b.Fatalf("second up not a no-op: %+v %v", res, err)
				}
				t2 := time.Now()
				if err := Down(context.Background(), o, src.Lab.Name); err != nil {
					b.Fatal(err)
				}
				up, again, down = up+t1.Sub(t0), again+t2.Sub(t1), down+time.Since(t2)
			}
			n := float64(b.N)
			b.ReportMetric(up.Seconds()/n, "up-s")
			b.ReportMetric(again.Seconds()/n, "noop-up-s")
			b.ReportMetric(down.Seconds()/n, "down-s")
			b.ReportMetric(up.Seconds()/n/float64(sz.nodes*sz.pods)*1000, "up-ms/pod")
		})
	}
}
