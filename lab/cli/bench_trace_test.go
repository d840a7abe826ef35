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
// 1,000-pod benchmark lab (a pod -> a Service over all 1,000 pods). The
// README quotes its figures.
func BenchmarkTrace(b *testing.B) {
	kerneltest.RequireRoot(b)
	b.Run("lab=default", func(b *testing.B) {
		l := kerneltest.NewLab(b, "tchb")
		dirs := []string{"--state-dir", l.StateDir, "--run-dir", l.RunDir}
		if out, err := kinnCmd(dirs, "up", "--name", l.Name).CombinedOutput(); err != nil {
			b.Fatalf("up: %v\n%s", err, out)
		}
		b.Cleanup(func() { kinnCmd(dirs, "down", "--name", l.Name).Run() })
		benchTrace(b, dirs, l.Name, "client", "svc/web")
	})
	b.Run("pods=1000", func(b *testing.B) {
		name, dirs := upBenchLab(b, "tchb")
		f := filepath.Join(b.TempDir(), "svc.yaml")
		os.WriteFile(f, []byte("apiVersion: v1\nkind: Service\nmetadata: {name: big}\nspec:\n  selector: {app: big}\n  ports: [{port: 80, targetPort: 8080}]\n"), 0o644)
		if out, err := kinnCmd(dirs, "apply", "--name", name, "-f", f).CombinedOutput(); err != nil {
			b.Fatalf("apply: %v\n%s", err, out)
		}
		benchTrace(b, dirs, name, benchPod(b, dirs, name), "svc/big")
	})
}

// benchTrace waits until src reaches dst (the lab process programs a new
// Service within a few seconds), then times the traces.
func benchTrace(b *testing.B, dirs []string, name, src, dst string) {
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
	for b.Loop() {
		if out, err := kinnCmd(dirs, args...).CombinedOutput(); err != nil {
			b.Fatalf("kinn %s: %v\n%s", strings.Join(args, " "), err, out)
		}
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
