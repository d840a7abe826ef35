package cli_test

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"kinn.dev/kinn/lab/kernel/kerneltest"
)

// BenchmarkTUIScreensAtRest brings up the 1,000-pod benchmark lab (20
// nodes x 50 pods), runs `kinn tui` in a 200x50 tmux window at its default
// refresh (1 s), and reports for each of the six screens the UI's CPU use
// over 15 s at rest (after 3 s to settle) and its resident memory. Run it
// alone: the figures are the machine's as much as the UI's.
//
//	go test -run '^$' -bench BenchmarkTUIScreensAtRest -benchtime 1x -timeout 10m ./lab/cli/
func BenchmarkTUIScreensAtRest(b *testing.B) {
	kerneltest.RequireRoot(b)
	if _, err := exec.LookPath("tmux"); err != nil {
		b.Skip("skipping: needs tmux")
	}
	for b.Loop() {
		name, dirs := upBenchLab(b, "tuicpu")
		session := "kinn-bench-" + name
		cmd := strings.Join(append([]string{"exec", kinnBin}, append(dirs, "tui", "--name", name)...), " ")
		if out, err := exec.Command("tmux", "new-session", "-d", "-s", session, "-x", "200", "-y", "50", cmd).CombinedOutput(); err != nil {
			b.Fatalf("tmux: %v\n%s", err, out)
		}
		b.Cleanup(func() { exec.Command("tmux", "kill-session", "-t", session).Run() })
		pid := panePID(b, session)
		time.Sleep(5 * time.Second) // the first fetches and the lab's first syncs
		for i, screen := range []string{"cluster", "traffic", "flows", "rules", "events", "trace"} {
			exec.Command("tmux", "send-keys", "-t", session, strconv.Itoa(i+1)).Run()
			time.Sleep(3 * time.Second)
			cpu0, t0 := cpuTicks(b, pid), time.Now()
			time.Sleep(15 * time.Second)
			cpu := float64(cpuTicks(b, pid)-cpu0) / 100 / time.Since(t0).Seconds() * 100
			b.ReportMetric(cpu, "%cpu-"+strconv.Itoa(i+1)+"-"+screen)
			b.ReportMetric(float64(rssKiB(b, pid))/1024, "MiB-rss-"+strconv.Itoa(i+1)+"-"+screen)
		}
		if raw, err := os.ReadFile("/proc/loadavg"); err == nil {
			b.Logf("load average at the end: %s", strings.TrimSpace(string(raw)))
		}
	}
}

// panePID is the pid of the process in a tmux session's pane (exec'd by
// its shell, so kinn itself).
func panePID(b *testing.B, session string) int {
	out, err := exec.Command("tmux", "list-panes", "-t", session, "-F", "#{pane_pid}").Output()
	if err != nil {
		b.Fatalf("tmux list-panes: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		b.Fatalf("tmux pane pid %q: %v", out, err)
	}
	return pid
}
