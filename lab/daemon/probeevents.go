package daemon

import (
	"log"
	"sync"
	"time"

	"kinn.dev/kinn/lab"
)

// probeEvents writes a pod's failed readiness probes to lab.log as the
// kubelet records them: a Warning event, reason Unhealthy, "Readiness probe
// failed: " and the probe's own error. The kubelet records every failure
// and the event store folds repeats into one event with a count; the log
// gets a line when a container's error changes, and a repeat at most once a
// minute, so a pod that stays broken does not flood the Events screen.
type probeEvents struct {
	pod  string
	mu   sync.Mutex
	last map[string]logged // by container
}

type logged struct {
	msg string
	at  time.Time
}

// repeatEvery is how often an unchanged failure is written again.
const repeatEvery = time.Minute

// failed is the probe's Failed hook, called from its goroutines.
func (e *probeEvents) failed(container string, err error) {
	msg := lab.ProbeFailed(err)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.last == nil {
		e.last = map[string]logged{}
	}
	now := time.Now()
	if l, ok := e.last[container]; ok && l.msg == msg && now.Sub(l.at) < repeatEvery {
		return
	}
	e.last[container] = logged{msg, now}
	log.Print(lab.PodEventLine(e.pod, lab.EventWarning, lab.ReasonUnhealthy, msg))
}
