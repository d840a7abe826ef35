package main

import (
	"os"
	"strings"
	"testing"
)

// TestCIRunsTheREADMECommand: CI runs exactly the test command the README
// gives, timeout included.
func TestCIRunsTheREADMECommand(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "Run the whole test suite")
	_, block, ok2 := strings.Cut(after, "```sh\n")
	want, _, ok3 := strings.Cut(block, "\n```")
	if !ok || !ok2 || !ok3 || !strings.HasPrefix(want, "go test ") {
		t.Fatalf("no test command in the README's \"Run the whole test suite\" block")
	}
	ci, err := os.ReadFile(".ci/run")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(ci)), "\n")
	if got := lines[len(lines)-1]; got != want {
		t.Errorf(".ci/run ends with %q, the README says %q", got, want)
	}
}
