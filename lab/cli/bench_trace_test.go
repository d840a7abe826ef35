package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"kinn.dev/kinn/lab/kernel/kerneltest"
	"kinn.dev/kinn/lab/trace"
)

// BenchmarkTrace times a whole `kinn trace POD svc/NAME` from the command
// line (process start, the lab's state, the probe, the kernel's reports
// and the story) on the default lab (client -> svc/web) and on the
// 1,000-pod benchmark lab (a pod -> a Service of 3 endpoints, and -> one
// over all 1,000 pods, whose namespaces are all marked). rest=2s lets the
// lab process finish the drift check each trace's tables set off in every
// node before the next trace (rest=0s runs them back to back). The README
// quotes its figures.
func BenchmarkTrace(b *testing.B) {
	kerneltest.RequireRoot(b)
	b.Run("lab=default", func(b *testing.B) {
		l := kerneltest.NewLab(b, "tchb")
		dirs := []string{"--state-dir", l.StateDir, "--run-dir", l.RunDir}
		if out, err := kinnCmd(dirs, "up", "--name", l.Name).CombinedOutput(); err != nil {
			b.Fatalf("up: %v\n%s", err, out)
		}
		b.Cleanup(func() { kinnCmd(dirs, "down", "--name", l.Name).Run() })
		benchTraces(b, dirs, l.Name, "client", "svc/web")
	})
	b.Run("pods=1000", func(b *testing.B) {
		name, dirs := upBenchLab(b, "tchb")
		f := filepath.Join(b.TempDir(), "svc.yaml")
		os.WriteFile(f, []byte(benchServices), 0o644)
		if out, err := kinnCmd(dirs, "apply", "--name", name, "-f", f).CombinedOutput(); err != nil {
			b.Fatalf("apply: %v\n%s", err, out)
		}
		src := benchPod(b, dirs, name)
		b.Run("svc=web", func(b *testing.B) { benchTraces(b, dirs, name, src, "svc/web") })
		b.Run("svc=big", func(b *testing.B) { benchTraces(b, dirs, name, src, "svc/big") })
	})
}

// benchServices are a Service over the 1,000 pods and one over 3 more.
const benchServices = `apiVersion: v1
kind: Service
metadata: {name: big}
spec:
  selector: {app: big}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: c, image: x, ports: [{containerPort: 8080}]}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
`

// benchTraces waits until src reaches dst (the lab process programs a new
// Service within a few seconds), then times traces back to back and after
// a rest.
func benchTraces(b *testing.B, dirs []string, name, src, dst string) {
	args := []string{"trace", "--name", name, "-o", "json", src, dst}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		out, err := kinnCmd(dirs, args...).Output()
		var j trace.Journey
		json.Unmarshal(out, &j)
		if err == nil && j.Verdict == trace.Delivered {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("kinn %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	time.Sleep(5 * time.Second) // the lab process's syncs of the new Service settle
	for _, rest := range []time.Duration{0, 2 * time.Second} {
		b.Run("rest="+rest.String(), func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				time.Sleep(rest)
				b.StartTimer()
				if out, err := kinnCmd(dirs, args...).CombinedOutput(); err != nil {
					b.Fatalf("kinn %s: %v\n%s", strings.Join(args, " "), err, out)
				}
			}
		})
	}
}

// benchPod names a running pod of the lab's.
func benchPod(b *testing.B, dirs []string, name string) string {
	out, err := kinnCmd(dirs, "get", "pods", "--name", name, "-o", "json").Output()
	if err != nil {
		b.Fatal(err)
	}
	var l corev1.PodList
	if err := json.Unmarshal(out, &l); err != nil || len(l.Items) == 0 {
		b.Fatalf("no pod in %s: %v", out, err)
	}
	return l.Items[0].Name
}
