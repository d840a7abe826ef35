package tui

import (
	"context"
	"time"

	"kinn.dev/kinn/lab"
	"kinn.dev/kinn/lab/daemon"
)

// Describe implements Source: the text of `kinn describe pod`, events
// from lab.log and the CNI call log included.
func (l *Live) Describe(ctx context.Context, ns, pod string) (string, error) {
	st, err := l.state()
	if err != nil {
		return "", err
	}
	events, err := l.describeEvents()
	if err != nil {
		return "", err
	}
	return lab.DescribePod(st, l.status(ctx).Live(), events, ns, pod, time.Now())
}

// describeEvents are the lab's events as describe reads them, read again
// only when lab.log or the CNI call log changed: the pod view refreshes
// every second, and reading thousands of calls each time is what the
// Events screen's cache avoids too.
func (l *Live) describeEvents() ([]lab.Event, error) {
	stamps := [2]fileStamp{stampOf(daemon.LogPath(l.o, l.name)), stampOf(lab.CNILogPath(l.o, l.name))}
	l.mu.Lock()
	if l.descEvents != nil && stamps == l.descEventsOf {
		defer l.mu.Unlock()
		return l.descEvents, nil
	}
	l.mu.Unlock()
	events, err := lab.ReadEvents(l.o, l.name)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.descEvents, l.descEventsOf = events, stamps
	l.mu.Unlock()
	return events, nil
}
