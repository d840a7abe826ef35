package tui

import (
	"context"
	"errors"
	"fmt"
	"time"

	tea "charm.land/bubbletea/v2"

	"kinn.dev/kinn/lab"
)

// kind is one kind of background data; each has its own fetch loop, so a
// slow kind (conntrack on a busy lab) never holds back the others.
type kind int

const (
	kindSnapshot kind = iota
	kindRates
	kindFlows
	kindRules
	kindEvents
	numKinds
)

func (k kind) String() string {
	return [...]string{"cluster", "rates", "flows", "rules", "events"}[k]
}

// dataMsg carries one fetch's result.
type dataMsg struct {
	kind   kind
	node   string // rules: whose
	snap   *Snapshot
	rates  []Rate
	flows  []Flow
	rules  *lab.RulesView
	events []Event
	err    error
	rearm  bool // part of the periodic loop (not a one-off after a key)
}

// tickMsg says it is time to fetch kind again.
type tickMsg struct{ kind kind }

// actionMsg reports an action's outcome for the status line.
type actionMsg struct {
	text string
	err  error
}

// fetcher runs Source calls as commands, each under a timeout. The call
// runs in its own goroutine so that a Source that ignores its context
// still cannot hold a command (and the fetch loop) past the timeout.
type fetcher struct {
	ctx     context.Context
	src     Source
	timeout time.Duration
	every   time.Duration
}

func (f *fetcher) fetch(k kind, node string, rearm bool) tea.Cmd {
	return func() tea.Msg {
		m, err := call(f.ctx, f.timeout, func(ctx context.Context) (m dataMsg, err error) {
			switch k {
			case kindSnapshot:
				m.snap, err = f.src.Snapshot(ctx)
			case kindRates:
				m.rates, err = f.src.Rates(ctx)
			case kindFlows:
				m.flows, err = f.src.Flows(ctx)
			case kindRules:
				if node != "" {
					m.rules, err = f.src.Rules(ctx, node)
				}
			case kindEvents:
				m.events, err = f.src.Events(ctx)
			}
			return m, err
		})
		// A failed call keeps nothing: the screen keeps the last good data.
		if err != nil {
			m = dataMsg{err: err}
		}
		m.kind, m.node, m.rearm = k, node, rearm
		return m
	}
}

// tick re-arms kind's loop.
func (f *fetcher) tick(k kind) tea.Cmd {
	return tea.Tick(f.every, func(time.Time) tea.Msg { return tickMsg{k} })
}

// action runs an action with a timeout and reports it in the status line.
func (f *fetcher) action(timeout time.Duration, do func(ctx context.Context) (string, error)) tea.Cmd {
	return func() tea.Msg {
		text, err := call(f.ctx, timeout, do)
		return actionMsg{text: text, err: err}
	}
}

// call runs fn with a deadline and returns when fn does or at the deadline,
// whichever comes first; fn's result is handed over on a channel, so a
// late fn writes nothing anyone reads. A panic in fn becomes an error
// rather than a crash with the terminal left in raw mode.
func call[T any](parent context.Context, timeout time.Duration, fn func(ctx context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- result{err: fmt.Errorf("panic: %v", r)}
			}
		}()
		v, err := fn(ctx)
		done <- result{v, err}
	}()
	var zero T
	select {
	case r := <-done:
		if errors.Is(r.err, context.DeadlineExceeded) {
			return zero, fmt.Errorf("timeout after %s", timeout)
		}
		return r.v, r.err
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return zero, fmt.Errorf("timeout after %s", timeout)
		}
		return zero, ctx.Err()
	}
}
