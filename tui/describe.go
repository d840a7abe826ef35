package tui

import (
	"context"
	"time"

	"kinn.dev/kinn/lab"
)

// Describe implements Source: the text of `kinn describe pod`, events
// from lab.log and the CNI call log included.
func (l *Live) Describe(ctx context.Context, ns, pod string) (string, error) {
	st, err := l.state()
	if err != nil {
		return "", err
	}
	events, err := lab.ReadEvents(l.o, l.name)
	if err != nil {
		return "", err
	}
	return lab.DescribePod(st, l.status(ctx).Live(), events, ns, pod, time.Now())
}
