package lab

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"kinn.dev/kinn/lab/kernel/nft"
	"kinn.dev/kinn/lab/kernel/nftrace"
	"kinn.dev/kinn/lab/service"
	"kinn.dev/kinn/lab/trace"
)

// kinn trace --live: no probe is sent; the source namespace's trace table
// picks the next new connection to the destination and gives its packets
// the probe's DSCP (nft.InstallLiveTrace), the other namespaces follow it
// as they follow a probe, and the destination pods give the packets their
// DSCP back. Whether it was answered is read from the source namespace's
// events (trace.Live), by a listener of its own opened before any table.

// LiveTimeout is how long --live waits for the connection by default: a
// program's next connection may be a while away, unlike a probe's answer.
const LiveTimeout = 30 * time.Second

// liveAnswerWait is the least time the connection's answer is awaited
// once it has started, however close to --timeout it came.
const liveAnswerWait = 2 * time.Second

// liveWatch waits for the live connection and its answer.
type liveWatch struct {
	l        *nftrace.Listener
	proto    string
	dst      traceDst
	timeout  time.Duration
	progress io.Writer
	src      string // what the source is, for the user
	seen     bool   // the connection came
}

// startLive prepares a live trace of r from the namespace src: it opens
// the source's own listener and makes dst send nothing but wait. The
// returned function closes the listener.
func (s *State) startLive(r TraceRequest, src string, dst *traceDst) (*liveWatch, func(), error) {
	if r.Proto != "tcp" && r.Proto != "udp" {
		return nil, nil, bad("--live traces a TCP or UDP connection, not %s", r.Proto)
	}
	l, err := nftrace.Listen(src)
	if err != nil {
		return nil, nil, err
	}
	w := &liveWatch{l: l, proto: r.Proto, dst: *dst, timeout: r.Timeout, progress: r.Progress, src: s.describeSrc(r.Src)}
	dst.live, dst.send = w, w.wait
	return w, func() { l.Close() }, nil
}

// installTrace adds the trace table to one namespace: the probe's, or a
// live trace's picking table in the source and its DSCP restoring chain
// where the connection may end.
func installTrace(ns, table, src string, dst traceDst) error {
	if dst.live == nil {
		return nft.InstallTrace(ns, table, TraceDSCP)
	}
	var err error
	if ns == src {
		m := nft.LiveMatch{Proto: service.Protocol(strings.ToUpper(dst.live.proto)), Dst: dst.addr}
		err = nft.InstallLiveTrace(ns, table, TraceDSCP, m)
	} else {
		err = nft.InstallTrace(ns, table, TraceDSCP)
	}
	if err == nil && slices.Contains(dst.netns, ns) {
		err = nft.InstallLiveRestore(ns, table, TraceDSCP)
	}
	return err
}

// sendProbe sends the probe, or for a live trace waits for the connection.
func sendProbe(ctx context.Context, r TraceRequest, src string, dst traceDst) trace.ProbeResult {
	if dst.send != nil {
		return dst.send(ctx)
	}
	return nftrace.Send(ctx, src, r.Proto, dst.addr, TraceDSCP, r.Timeout)
}

// wait waits up to the timeout for the connection, then for its answer
// (at least liveAnswerWait), reading the source namespace's events.
func (w *liveWatch) wait(ctx context.Context) trace.ProbeResult {
	res := trace.ProbeResult{Proto: w.proto, Dst: w.dst.addr, Outcome: trace.NoAnswer, Error: "no answer"}
	if w.progress != nil {
		fmt.Fprintf(w.progress, "waiting up to %s for the next new %s connection from %s to %s\n",
			w.timeout, strings.ToUpper(w.proto), w.src, w.dst.addr)
	}
	end := time.Now().Add(w.timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		st := trace.Live(w.l.Events(), TraceDSCP, w.proto)
		if st.Started && !w.seen {
			w.seen, res.Src = true, st.Src
			end = later(end, time.Now().Add(liveAnswerWait))
		}
		if st.Done {
			res.Outcome, res.Error = st.Outcome, st.Error
			return res
		}
		if time.Now().After(end) {
			if !w.seen {
				res.Outcome, res.Error = trace.Failed, w.nothing()
			}
			return res
		}
		select {
		case <-ctx.Done():
			return res
		case <-tick.C:
		}
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// nothing says that no connection came: nothing was traced, which is no
// verdict on the network.
func (w *liveWatch) nothing() string {
	return fmt.Sprintf("no new %s connection from %s to %s within %s: nothing was traced",
		strings.ToUpper(w.proto), w.src, w.dst.addr, w.timeout)
}

// liveJourney words a live trace's journey: the program, not a prober,
// got the answer, and a connection that never came is said so.
func (w *liveWatch) liveJourney(j *trace.Journey) {
	if !w.seen {
		// The source's own route, asked when nothing left it, is no
		// part of a journey that never began.
		j.Verdict, j.Summary, j.Request, j.Reply = trace.Error, w.nothing(), []trace.Hop{}, []trace.Hop{}
		return
	}
	for i := range j.Reply {
		j.Reply[i].Action = strings.Replace(j.Reply[i].Action, "reached the prober", "reached the program", 1)
	}
}
