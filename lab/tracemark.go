package lab

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"kinn.dev/kinn/lab/kernel"
	"kinn.dev/kinn/lab/kernel/nft"
	"kinn.dev/kinn/lab/kernel/nftrace"
	"kinn.dev/kinn/lab/proxy"
	"kinn.dev/kinn/lab/trace"
)

// traceWorkers bounds how many namespaces are marked or unmarked at once.
// Deleting a table with base chains waits on the kernel (~13 ms here,
// mostly idle), so a Service's 1,000 endpoints' pods unmarked one after
// the other took 13 s; 64 at a time overlap the waits (~0.4 s).
const traceWorkers = 64

// markAll listens in, then marks (install), every existing namespace of nss, at
// most traceWorkers at once. It returns the listeners it started and the
// namespaces it may have marked also when it fails, for the caller to
// close and unmark.
func markAll(nss []string, install func(ns string) error) ([]*nftrace.Listener, []string, error) {
	var mu sync.Mutex
	var listeners []*nftrace.Listener
	var marked []string
	err := eachNetns(nss, func(ns string) error {
		if !kernel.NetnsExists(ns) {
			return nil
		}
		// Listen before marking: no event of the probe can come first.
		l, err := nftrace.Listen(ns)
		if err != nil {
			return err
		}
		mu.Lock()
		listeners, marked = append(listeners, l), append(marked, ns)
		mu.Unlock()
		return install(ns)
	})
	return listeners, marked, err
}

// unmarkAll removes the trace table from every namespace of marked.
func unmarkAll(marked []string, table string) error {
	return eachNetns(marked, func(ns string) error {
		_, err := nft.RemoveTraces(ns, table)
		return err
	})
}

// eachNetns runs f for every namespace, traceWorkers at a time, and joins
// their errors.
func eachNetns(nss []string, f func(ns string) error) error { return eachOf(nss, f) }

// eachOf runs f for every item, traceWorkers at a time (each enters a
// namespace and waits on the kernel), and joins their errors.
func eachOf[T any](items []T, f func(T) error) error {
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	sem := make(chan struct{}, traceWorkers)
	for _, it := range items {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := f(it); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// kinnTableMet lists the namespaces whose events name kinn's table.
func kinnTableMet(evs []trace.Event) map[string]bool {
	out := map[string]bool{}
	for _, ev := range evs {
		if ev.Table == proxy.TableName {
			out[ev.Netns] = true
		}
	}
	return out
}

// marks are one trace's tables, listeners and labels, taken back in the
// order that leaves nothing: tables first (then nothing new is marked or
// labelled), then the listeners read to their end, then the labels where
// the probe was seen.
type marks struct {
	table     string
	marked    []string
	listeners []*nftrace.Listener
	unmarked  bool
	unmarkErr error
	// seen are the namespaces the probe was seen in (and those whose
	// events may have been lost): where labels are; nil until heard.
	seen []string
}

// unmark removes the trace tables, once.
func (m *marks) unmark() {
	if m.unmarked {
		return
	}
	m.unmarked = true
	if err := unmarkAll(m.marked, m.table); err != nil {
		m.unmarkErr = fmt.Errorf("remove trace table: %w", err)
	}
}

// hear unmarks, then closes the listeners and returns what they heard:
// their events stay queued after the tables go.
func (m *marks) hear() ([]trace.Event, []string, error) {
	m.unmark()
	var evs []trace.Event
	var gaps []string
	var errs []error
	var lost []string
	for _, l := range m.listeners {
		e, notes, err := l.Close()
		evs, gaps, errs = append(evs, e...), append(gaps, notes...), append(errs, err)
		if len(notes) > 0 {
			lost = append(lost, l.Netns())
		}
	}
	m.listeners = nil
	m.seen = append(seenIn(evs), lost...)
	return evs, gaps, errors.Join(errs...)
}

// finish takes everything back: the tables, the listeners, the labels
// (where the probe was seen, and in extra), and empties the lock file's
// list once all of it went well.
func (m *marks) finish(lock *traceLock, extra []string) error {
	m.unmark()
	if m.seen == nil {
		m.hear()
	}
	cerr := clearTraceLabels(append(m.seen, extra...))
	if m.unmarkErr == nil && cerr == nil && lock != nil {
		cerr = lock.clean()
	}
	return errors.Join(m.unmarkErr, cerr)
}

// seenIn lists the namespaces that told events.
func seenIn(evs []trace.Event) []string {
	out := []string{}
	for _, ev := range evs {
		if !slices.Contains(out, ev.Netns) {
			out = append(out, ev.Netns)
		}
	}
	return out
}

// clearTraceLabels takes the trace's conntrack label off the connections
// it followed in nss. Each clearing walks the kernel's whole conntrack
// table (shared by every namespace: ~12 ms a namespace on the 1,000-pod
// lab), which is why only the namespaces the probe was seen in are given.
func clearTraceLabels(nss []string) error {
	slices.Sort(nss)
	return eachNetns(slices.Compact(nss), func(ns string) error {
		if !kernel.NetnsExists(ns) {
			return nil
		}
		_, err := nft.ClearTraceLabels(ns)
		return err
	})
}
