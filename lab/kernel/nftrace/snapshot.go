package nftrace

import (
	"slices"

	"kinn.dev/kinn/lab/trace"
)

// Events returns what was heard so far, and goes on listening: for a live
// trace, which waits until the kernel has seen the connection and its
// answer.
func (l *Listener) Events() []trace.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.evs)
}
