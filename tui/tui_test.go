package tui

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// clock is a settable clock for the model.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// newTestModel is a model over src at w x h, no colour, the clock at t0,
// with every kind of data loaded once.
func newTestModel(t *testing.T, src Source, w, h int) (*model, *clock) {
	t.Helper()
	c := &clock{t0}
	m := newModel(t.Context(), src, Options{Lab: "demo", NoColor: true, Now: c.now, Width: w, Height: h,
		Timeout: time.Second})
	for k := range numKinds {
		load(m, k)
	}
	return m, c
}

// load fetches one kind synchronously, as the program would in a command.
func load(m *model, k kind) {
	m.Update(m.sh.f.fetch(k, m.rulesNode(), false)())
}

// press sends keys by name: "down", "enter", "shift+tab", or text ("r", "/").
func press(m *model, names ...string) tea.Cmd {
	var cmd tea.Cmd
	for _, n := range names {
		_, cmd = m.Update(keyMsg(n))
	}
	return cmd
}

func keyMsg(name string) tea.KeyPressMsg {
	special := map[string]tea.Key{
		"up": {Code: tea.KeyUp}, "down": {Code: tea.KeyDown}, "left": {Code: tea.KeyLeft}, "right": {Code: tea.KeyRight},
		"enter": {Code: tea.KeyEnter}, "esc": {Code: tea.KeyEscape}, "tab": {Code: tea.KeyTab},
		"shift+tab": {Code: tea.KeyTab, Mod: tea.ModShift}, "backspace": {Code: tea.KeyBackspace},
		"pgdown": {Code: tea.KeyPgDown}, "pgup": {Code: tea.KeyPgUp}, "home": {Code: tea.KeyHome}, "end": {Code: tea.KeyEnd},
		"ctrl+c": {Code: 'c', Mod: tea.ModCtrl},
	}
	if k, ok := special[name]; ok {
		return tea.KeyPressMsg(k)
	}
	r := []rune(name)
	return tea.KeyPressMsg{Code: r[0], Text: name}
}

// screenText is the plain rendering (styles stripped; the no-colour
// variant carries its information in characters).
func screenText(m *model) string { return ansi.Strip(m.View().Content) }

// checkFrame asserts the frame is exactly h lines of at most w cells.
func checkFrame(t *testing.T, out string, w, h int) {
	t.Helper()
	lines := strings.Split(out, "\n")
	if len(lines) != h {
		t.Errorf("frame has %d lines, want %d", len(lines), h)
	}
	for i, l := range lines {
		if n := ansi.StringWidth(l); n > w {
			t.Errorf("line %d is %d cells wide, want at most %d: %q", i, n, w, l)
		}
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./tui -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (go test ./tui -update rewrites it)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestGoldenScreens(t *testing.T) {
	t.Parallel()
	for _, size := range [][2]int{{80, 24}, {200, 50}} {
		for i, name := range []string{"cluster", "traffic", "flows", "rules", "events", "trace"} {
			t.Run(name+"-"+strconv.Itoa(size[0])+"x"+strconv.Itoa(size[1]), func(t *testing.T) {
				t.Parallel()
				m, _ := newTestModel(t, newFake(), size[0], size[1])
				press(m, strconv.Itoa(i+1))
				out := screenText(m)
				checkFrame(t, out, size[0], size[1])
				golden(t, name+"-"+strconv.Itoa(size[0])+"x"+strconv.Itoa(size[1]), out)
			})
		}
	}
}

// The overlays and states that are not a screen's first frame.
func TestGoldenStates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		keys []string
		prep func(*fakeSource)
	}{
		{name: "help", keys: []string{"?"}},
		{name: "cluster-node", keys: []string{"down", "enter"}},
		{name: "cluster-filter", keys: []string{"/", "w", "e", "b", "enter"}},
		{name: "send-prompt", keys: []string{"end", "up", "up", "up", "up", "up", "up", "s", "down", "backspace", "5"}},
		{name: "rules-worker", keys: []string{"4", "n"}},
		{name: "events-call", keys: []string{"5", "down", "down", "down", "down", "enter"}},
		{name: "events-all", keys: []string{"5", "a"}},
		{name: "trace-journey", keys: []string{"6", "enter"}},
		{name: "trace-running", keys: []string{"6", "right", "down", "enter", "left"}},
		{name: "status-errors", prep: func(f *fakeSource) { f.fail["flows"] = errTest("conntrack: permission denied") }},
	}
	for _, tt := range tests {
		for _, size := range [][2]int{{80, 24}, {200, 50}} {
			name := fmt.Sprintf("%s-%dx%d", tt.name, size[0], size[1])
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				f := newFake()
				if tt.prep != nil {
					tt.prep(f)
				}
				m, _ := newTestModel(t, f, size[0], size[1])
				if cmd := press(m, tt.keys...); cmd != nil {
					if msg := cmd(); msg != nil {
						m.Update(msg)
					}
				}
				out := screenText(m)
				checkFrame(t, out, size[0], size[1])
				golden(t, name, out)
			})
		}
	}
}

type errTest string

func (e errTest) Error() string { return string(e) }
