package daemon

import (
	"context"
	"errors"
	"net"
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
