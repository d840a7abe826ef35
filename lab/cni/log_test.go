package cni_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kinn.dev/kinn/lab/cni"
	"kinn.dev/kinn/lab/kernel/kerneltest"
)

// TestCallLogFullDisk: on a full disk a call's line goes in whole or not at
// all. The log's last page has room left, so a write fills that much and
// then fails: the half line must be cut off again, and once there is space
// the next line starts on a line of its own.
func TestCallLogFullDisk(t *testing.T) {
	kerneltest.RequireRoot(t) // mounts a tmpfs
	dir := kerneltest.SmallDisk(t, 256<<10)
	l := &cni.CallLog{Path: filepath.Join(dir, "cni-calls.jsonl")}
	defer l.Close()
	l.Record(cni.Call{Node: "first", Command: "ADD"})
	before, err := os.ReadFile(l.Path)
	if err != nil {
		t.Fatal(err)
	}
	filler := kerneltest.FillDisk(t, dir, 0)
	big := cni.Call{Node: "second", Command: "ADD", Config: json.RawMessage(`"` + strings.Repeat("x", 3*4096) + `"`)}
	l.Record(big)
	after, _ := os.ReadFile(l.Path)
	if !bytes.Equal(after, before) {
		t.Fatalf("on a full disk the log went from %d to %d bytes; want the first line only, whole:\n%.200q", len(before), len(after), after)
	}
	os.Remove(filler)
	l.Record(cni.Call{Node: "third", Command: "DEL"})
	calls, err := cni.ReadCalls(l.Path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(l.Path)
	for i, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("line %d is not JSON: %.100q", i+1, line)
		}
	}
	if len(calls) != 2 || calls[0].Node != "third" || calls[1].Node != "first" {
		t.Errorf("read back %d calls (%v), want third and first", len(calls), calls)
	}
}
