package lab

import (
	"slices"
	"testing"
)

// TestPickCurrent: a named lab wins over the current one, which wins over
// the labs that exist; the CURRENT file is never taken for a lab; down's
// ForgetCurrent forgets only its own lab.
func TestPickCurrent(t *testing.T) {
	t.Parallel()
	o := Options{StateRoot: t.TempDir(), RuntimeRoot: t.TempDir()}
	if cur, err := Current(o); cur != "" || err != nil {
		t.Fatalf("Current of a fresh root = %q, %v", cur, err)
	}
	if err := SetCurrent(o, "a.b"); err == nil {
		t.Error("SetCurrent took a name no lab can have")
	}
	if err := SetCurrent(o, "cur"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ named, want string }{{"", "cur"}, {"other", "other"}} {
		if got, err := Pick(o, c.named); got != c.want || err != nil {
			t.Errorf("Pick(%q) = %q, %v, want %q", c.named, got, err, c.want)
		}
	}
	if labs, _ := List(o); slices.Contains(labs, currentFile) {
		t.Errorf("List counts %s as a lab: %v", currentFile, labs)
	}
	ForgetCurrent(o, "other")
	if cur, _ := Current(o); cur != "cur" {
		t.Errorf("forgetting another lab forgot the current one: %q", cur)
	}
	ForgetCurrent(o, "cur")
	if cur, _ := Current(o); cur != "" {
		t.Errorf("Current after its lab went down = %q", cur)
	}
}
