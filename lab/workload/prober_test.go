package workload

import (
	"strings"
	"testing"
)

func TestProber(t *testing.T) {
	t.Parallel()
	// Outcomes: s = success, f = failure. Want: the readiness after each,
	// upper case where it changed.
	tests := []struct {
		name             string
		success, failure int
		outcomes, want   string
	}{
		{"defaults: first success readies", 0, 0, "s", "R"},
		{"starts unready, failures keep it so", 0, 0, "fffs", "uuuR"},
		{"three failures to unready", 0, 0, "sfffs", "RrrUR"},
		{"a success resets the failure run", 0, 0, "sffsfff", "RrrrrrU"},
		{"success threshold 3", 3, 1, "ssfsss", "uuuuuR"},
		{"failure threshold 1", 1, 1, "sfsf", "RURU"},
		{"long runs change once", 2, 2, "ssssffff", "uRrrrUuu"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := NewProber(tt.success, tt.failure)
			if p.Ready() {
				t.Fatal("a new prober is ready")
			}
			var got strings.Builder
			for _, o := range tt.outcomes {
				ready, changed := p.Observe(o == 's')
				c := map[bool]string{true: "r", false: "u"}[ready]
				if changed {
					c = strings.ToUpper(c)
				}
				got.WriteString(c)
			}
			if got.String() != tt.want {
				t.Errorf("after %s: got %s, want %s", tt.outcomes, got.String(), tt.want)
			}
		})
	}
}
