package daemon

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"

	"kinn.dev/kinn/lab"
)

// TestHungLabProcess: a lab process that accepts connections but never
// answers (hung) is reported in words after the short timeout, naming
// `kinn up`, instead of a raw timeout after half a minute.
func TestHungLabProcess(t *testing.T) {
	o := lab.Options{StateRoot: t.TempDir(), RuntimeRoot: t.TempDir()}
	os.MkdirAll(o.RuntimeDir("hung"), 0o755)
	ln, err := net.Listen("unix", SocketPath(o, "hung"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var held []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c) // read nothing, answer nothing
		}
	}()
	_, err = NewClient(o, "hung").Status(context.Background())
	var stuck *NotAnsweringError
	if !errors.As(err, &stuck) || stuck.Stopped {
		t.Fatalf("status of a hung lab process: %v; want a NotAnsweringError, not stopped", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "does not answer") || !strings.Contains(msg, "kinn up --name hung") {
		t.Errorf("message %q does not say it does not answer and what to run", msg)
	}
}

// TestBusyLabProcess: a lab process that answers /ping (which takes no
// lock) but not a status in time is busy, not hung: it is said so, and
// nothing suggests replacing it (which would kill every pod's servers).
func TestBusyLabProcess(t *testing.T) {
	o := lab.Options{StateRoot: t.TempDir(), RuntimeRoot: t.TempDir()}
	os.MkdirAll(o.RuntimeDir("busy"), 0o755)
	ln, err := net.Listen("unix", SocketPath(o, "busy"))
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	defer close(release)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ping", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("{}")) })
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) { <-release })
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	defer srv.Close()
	_, err = NewClient(o, "busy").Status(context.Background())
	var stuck *NotAnsweringError
	if !errors.As(err, &stuck) || !stuck.Busy {
		t.Fatalf("status of a busy lab process: %v; want a NotAnsweringError saying busy", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "is busy") || strings.Contains(msg, "replace") {
		t.Errorf("message %q should say busy and not suggest replacing it", msg)
	}
}
