package cli_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"kinn.dev/kinn/lab/kernel/kerneltest"
)

// BenchmarkLabProcessAtRest brings up the 1,000-pod benchmark lab (20 nodes
// x 50 pods, every pod serving a port) and reports the lab process's
// resident memory and CPU use over 20 s at rest.
func BenchmarkLabProcessAtRest(b *testing.B) {
	kerneltest.RequireRoot(b)
	for b.Loop() {
		name, dirs := upBenchLab(b, "rest")
		pid := labPID(b, dirs[3], name)
		time.Sleep(5 * time.Second) // let the first probes and syncs settle
		cpu0, t0 := cpuTicks(b, pid), time.Now()
		time.Sleep(20 * time.Second)
		cpu := float64(cpuTicks(b, pid)-cpu0) / 100 / time.Since(t0).Seconds() * 100
		b.ReportMetric(float64(rssKiB(b, pid))/1024, "MiB-rss")
		b.ReportMetric(cpu, "%cpu")
	}
}

// upBenchLab brings up the 1,000-pod benchmark lab (20 nodes x 50 pods,
// every pod serving a port), taken down when the benchmark ends.
func upBenchLab(b *testing.B, prefix string) (name string, dirs []string) {
	l := kerneltest.NewLab(b, prefix)
	name = l.Name
	dirs = []string{"--state-dir", l.StateDir, "--run-dir", l.RunDir}
	f := filepath.Join(b.TempDir(), "lab.yaml")
	os.WriteFile(f, []byte(kerneltest.Topology(name, 20, 1000)), 0o644)
	if out, err := kinnCmd(dirs, "up", "-f", f).CombinedOutput(); err != nil {
		b.Fatalf("up: %v\n%s", err, out)
	}
	b.Cleanup(func() { kinnCmd(dirs, "down", "--name", name).Run() })
	return name, dirs
}

func labPID(b *testing.B, runRoot, name string) int {
	raw, err := os.ReadFile(filepath.Join(runRoot, name, "lab.pid"))
	if err != nil {
		b.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
	return pid
}

// cpuTicks is utime+stime of a process in clock ticks (100 a second).
func cpuTicks(b *testing.B, pid int) int {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		b.Fatal(err)
	}
	f := strings.Fields(string(raw)[strings.LastIndexByte(string(raw), ')')+2:])
	u, _ := strconv.Atoi(f[11])
	s, _ := strconv.Atoi(f[12])
	return u + s
}

func rssKiB(b *testing.B, pid int) int {
	raw, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	for _, l := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}
