package tui

import (
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
)

func TestHumanise(t *testing.T) {
	t.Parallel()
	bytesTests := []struct {
		in   float64
		want string
	}{{0, "0"}, {1023, "1023"}, {1024, "1.0K"}, {12_800, "12K"}, {2_400_000, "2.3M"}, {5 << 30, "5.0G"}}
	for _, tt := range bytesTests {
		if got := humanBytes(tt.in); got != tt.want {
			t.Errorf("humanBytes(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
	countTests := []struct {
		in   float64
		want string
	}{{0, "0"}, {999, "999"}, {2100, "2.1k"}, {34_000, "34k"}, {5_600_000, "5.6M"}}
	for _, tt := range countTests {
		if got := humanCount(tt.in); got != tt.want {
			t.Errorf("humanCount(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSparkline(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in    []float64
		width int
		want  string
	}{
		{nil, 10, ""},
		{[]float64{0, 0, 0}, 10, "▁▁▁"},
		{[]float64{0, 1, 2, 3, 4, 5, 6, 7}, 10, "▁▂▃▄▅▆▇█"},
		{[]float64{9, 9, 1, 8}, 2, "▂█"}, // the newest width samples
		{[]float64{1, 1000}, 5, "▂█"},    // tiny but not zero is not the zero line
	}
	for _, tt := range tests {
		if got := sparkline(tt.in, tt.width); got != tt.want {
			t.Errorf("sparkline(%v, %d) = %q, want %q", tt.in, tt.width, got, tt.want)
		}
	}
}

func TestAge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   time.Duration
		want string
	}{{-time.Second, "0s"}, {45 * time.Second, "45s"}, {95 * time.Second, "1m35s"}, {12 * time.Minute, "12m"},
		{125 * time.Minute, "2h5m"}, {50 * time.Hour, "2d"}}
	for _, tt := range tests {
		if got := age(tt.in); got != tt.want {
			t.Errorf("age(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDeploymentOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pod, deploy string
		ok          bool
	}{
		{"web-7d4b9c8f6-x2k9p", "web", true},
		{"my-api-server-5d78c9869d-h7r2k", "my-api-server", true},
		{"client", "", false},
		{"web-0", "", false},              // a StatefulSet's
		{"web-7d4b9c8f6-x2k9", "", false}, // suffix too short
	}
	for _, tt := range tests {
		d, ok := deploymentOf(tt.pod)
		if d != tt.deploy || ok != tt.ok {
			t.Errorf("deploymentOf(%q) = %q, %t; want %q, %t", tt.pod, d, ok, tt.deploy, tt.ok)
		}
	}
}

func TestColumnsFit(t *testing.T) {
	t.Parallel()
	c := newColumns("NAME", "ROLE", "IP", "MESSAGE").dropFirst(1).keepWhole(2)
	c.measure([]string{"a-rather-long-node-name", "control-plane", "172.30.0.2", "a long message that is clipped"})
	c.fitTo(40)
	got := c.row([]string{"a-rather-long-node-name", "control-plane", "172.30.0.2", "a long message that is clipped"})
	// ROLE goes first; then the gaps narrow and NAME shrinks; the address
	// stays whole and the last column is left for the caller to clip.
	if want := "a-rather-long-node-… 172.30.0.2 a long message that is clipped"; got != want {
		t.Errorf("row = %q, want %q", got, want)
	}
	c.fitTo(30)
	got = c.row([]string{"a-rather-long-node-name", "control-plane", "172.30.0.2", "msg"})
	if want := "a-rather-… 172.30.0.2 msg"; got != want {
		t.Errorf("narrow row = %q, want %q", got, want)
	}
}

// width's shortcuts agree with ansi.StringWidth.
func TestWidth(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "web-7d4b9c8f6-x2k9p", "↑1.2k", "abc…", "▁▂▃▄▅▆▇█", "\x1b[1mbold\x1b[0m", "日本", "e\u0301", "ok ✓", "🙂"} {
		if got, want := width(s), ansi.StringWidth(s); got != want {
			t.Errorf("width(%q) = %d, want %d", s, got, want)
		}
	}
}
