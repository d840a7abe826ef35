package tui

import (
	"context"

	"kinn.dev/kinn/lab"
	"kinn.dev/kinn/lab/trace"
)

// Trace implements Source through the CLI's own path: the lab's Service
// ports with the lab process's readiness, then lab.State.Trace. Unlike the
// collectors it has no readTimeout: the request carries its own, and ctx
// is what cancels it.
func (l *Live) Trace(ctx context.Context, r lab.TraceRequest) (trace.Journey, string, error) {
	st, err := l.state()
	if err != nil {
		return trace.Journey{}, "", err
	}
	return st.Trace(ctx, r, st.ServicePorts(l.status(ctx).Readiness()))
}
