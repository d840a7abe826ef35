package cli_test

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

// A NodePort whose traffic policy drops what reaches a node without one of
// its endpoints (the control plane has no web pod): a probe to it waits
// for its whole timeout, long enough to be cancelled.
const tuiTraceLocal = `apiVersion: v1
kind: Service
metadata:
  name: web-local
spec:
  type: NodePort
  externalTrafficPolicy: Local
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080, nodePort: 30091}]
`

// TestTUITrace drives the Trace screen of the real binary in tmux against
// a real lab: client -> svc/web is traced and delivered, in kinn trace's
// words; esc cancels a trace out and its tables go; t on a pod of the
// Cluster screen traces from it; quitting during a trace leaves nothing.
func TestTUITrace(t *testing.T) {
	e := newEnv(t, "ttu")
	e.up("")
	e.apply(tuiTraceLocal)
	s := startTUI(t, e)
	s.waitFor("the lab", func(scr string) bool { return strings.Contains(scr, "client") })
	s.keys("6")
	s.waitFor("the Trace screen's pickers", func(scr string) bool {
		return strings.Contains(scr, "[SOURCE]") && strings.Contains(scr, "svc/default/web")
	})
	s.pick("client", "svc/default/web")
	s.waitFor("client -> svc/default/web chosen", hasLine("same as: kinn trace pod/default/client svc/default/web"))
	s.keys("Enter")
	scr := s.waitFor("the journey delivered", func(scr string) bool { return strings.Contains(scr, "✓ DELIVERED") })
	for _, want := range []string{"REQUEST", " 1 pod default/client on ", "  [Service default/web]", "→ nftables  DNAT to 10.244."} {
		if !strings.Contains(scr, want) {
			t.Errorf("the journey lacks %q:\n%s", want, scr)
		}
	}
	e.noTraceTables(t)
	s.keys("v")
	s.waitFor("the rules' text (v)", func(scr string) bool { return strings.Contains(scr, "vmap @service-ips") })

	// Cancelled: external -> a NodePort of a node without endpoints.
	s.esc()
	s.keys("Left")
	s.pick("external", "node/kinn-control-plane:30091")
	s.waitFor("external -> the Local NodePort chosen", hasLine("same as: kinn trace external node/kinn-control-plane:30091"))
	s.keys("Enter")
	s.waitFor("the trace running", func(scr string) bool {
		return strings.Contains(scr, "tracing external -> node/kinn-control-plane:30091…")
	})
	s.esc()
	s.waitFor("the cancel done", func(scr string) bool {
		return strings.Contains(scr, "trace external -> node/kinn-control-plane:30091 cancelled: its tables are removed")
	})
	e.noTraceTables(t)

	// t on a pod of the Cluster screen.
	s.keys("1", "/")
	s.typeText("web-6")
	s.keys("Enter", "t")
	s.waitFor("the Trace screen from the web pod", func(scr string) bool {
		return strings.Contains(scr, "TRACE from pod/default/web-6") && strings.Contains(scr, "[DESTINATION]")
	})

	// Quitting while a trace is out: the process cleans up, then exits.
	s.keys("Left")
	s.pick("external", "node/kinn-control-plane:30091")
	s.keys("Enter")
	s.waitFor("the trace running", func(scr string) bool { return strings.Contains(scr, "tracing external") })
	s.keys("q")
	deadline := time.Now().Add(10 * time.Second)
	for exec.Command("tmux", "has-session", "-t", s.name).Run() == nil {
		if time.Now().After(deadline) {
			t.Fatalf("kinn tui did not exit after q during a trace:\n%s", s.screen())
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.noTraceTables(t)
}

// pick chooses the source and then the destination by filtering each
// picker to the first row that matches, the filter cleared after.
func (s *tmuxScreen) pick(src, dst string) {
	s.keys("/")
	s.typeText(src)
	s.keys("Enter")
	s.esc()
	s.keys("Right", "/")
	s.typeText(dst)
	s.keys("Enter")
	s.esc()
}

// esc sends Escape alone: an arrow key's escape sequence read together
// with it would be alt+arrow, as in any terminal.
func (s *tmuxScreen) esc() {
	time.Sleep(200 * time.Millisecond)
	s.keys("Escape")
	time.Sleep(300 * time.Millisecond)
}

// typeText types text as it is, not as key names.
func (s *tmuxScreen) typeText(text string) {
	exec.Command("tmux", "send-keys", "-t", s.name, "-l", text).Run()
	time.Sleep(50 * time.Millisecond)
}

// hasLine says whether the screen has a line that is want, spaces aside.
func hasLine(want string) func(string) bool {
	return func(scr string) bool {
		for _, l := range strings.Split(scr, "\n") {
			if strings.TrimSpace(l) == want {
				return true
			}
		}
		return false
	}
}
