package tui

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestRunQuits drives the real program: it draws the lab in the alternate
// screen, quits on q, and leaves the alternate screen again.
func TestRunQuits(t *testing.T) {
	t.Parallel()
	pr, pw := io.Pipe()
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- Run(t.Context(), newFake(), Options{Lab: "demo", Input: pr, Output: out, NoColor: true,
			Width: 80, Height: 24, Refresh: 20 * time.Millisecond})
	}()
	// Wait until the lab is on screen (the first fetches have arrived).
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(out.String(), "demo-control-plane"); {
		if time.Now().After(deadline) {
			t.Fatalf("the lab was never drawn:\n%q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := pw.Write([]byte("q")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after q")
	}
	s := out.String()
	if !strings.Contains(s, "\x1b[?1049h") || !strings.Contains(s, "\x1b[?1049l") {
		t.Errorf("alternate screen not entered and left")
	}
}

// syncBuffer is a bytes.Buffer the program writes to while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRunStopsWithContext(t *testing.T) {
	t.Parallel()
	pr, _ := io.Pipe()
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	err := Run(ctx, newFake(), Options{Input: pr, Output: io.Discard, Width: 80, Height: 24})
	if err != nil {
		t.Errorf("Run after the context ended: %v", err)
	}
}
