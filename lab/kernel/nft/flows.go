package nft

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/ti-mo/conntrack"
	"github.com/ti-mo/netfilter"

	"kinn.dev/kinn/lab/kernel"
)

// Conn is one conntrack entry as a learner reads it: who asked for what,
// and where the proxy sent it (the reply tuple's source after DNAT).
type Conn struct {
	ID       uint32
	Proto    string
	Client   netip.AddrPort
	Dest     netip.AddrPort // as the client addressed it (a ClusterIP, say)
	Endpoint netip.AddrPort // where it went; equal to Dest when not NATed
	State    string
	Bytes    uint64
	Started  time.Time // zero unless conntrack timestamps are on
}

// Tracker follows conntrack tables through conntrack's events, one
// subscription per namespace: a dump walks the kernel's conntrack hash,
// which all namespaces share (262,144 buckets here, ~9 ms a dump whatever a
// namespace holds), so a live view of 20 nodes that dumped every second
// would spend a fifth of a core on it. The tracker dumps once, then keeps
// its copy up to date from the NEW, UPDATE and DESTROY events.
//
// A live view must never hang on it, so no lock is held across a kernel
// call, a caller waits for a subscription only until its context ends, and
// ending one never waits: each subscription has one goroutine that owns its
// sockets, sets them up, applies events, and on close keeps draining the
// event channels until the library's worker, unblocked, has exited (the
// library's Close waits for its worker, which waits to hand over an event).
type Tracker struct {
	mu    sync.Mutex
	nodes map[string]*tracked
}

type tracked struct {
	id     uint64        // the namespace it follows
	ready  chan struct{} // closed once subscribed and dumped, or failed
	done   chan struct{} // closed by close: stop
	stop   sync.Once
	events chan conntrack.Event
	// listen and query are the goroutine's: the subscription, and a
	// socket for the dump and the per-flow counters.
	listen, query *conntrack.Conn
	mu            sync.Mutex
	flows         map[uint32]conntrack.Flow // by conntrack id, with the last counters read
	err           error                     // setting up or the subscription failed: start over
}

// Counters: conntrack's NEW and UPDATE events carry no byte counts (only
// DESTROY does), so the tracker asks for the live flows' counters itself
// every refreshEvery, one flow at a time (a lookup by tuple, not a walk of
// the shared hash), at most refreshMax flows a round.
const (
	refreshEvery = time.Second
	refreshMax   = 512
)

// NewTracker returns a Tracker that follows nothing yet.
func NewTracker() *Tracker { return &Tracker{nodes: map[string]*tracked{}} }

// Conns returns a namespace's tracked connections, subscribing to its
// events on the first call. It waits for the subscription only until ctx
// ends; a later call picks it up.
func (t *Tracker) Conns(ctx context.Context, netnsName string) ([]Conn, error) {
	t.mu.Lock()
	tr := t.nodes[netnsName]
	if tr != nil && (tr.id != kernel.NetnsID(netnsName) || tr.failed() != nil) {
		tr.close() // the namespace was recreated, or the subscription broke
		tr = nil
	}
	if tr == nil {
		tr = follow(netnsName)
		t.nodes[netnsName] = tr
	}
	t.mu.Unlock()
	select {
	case <-tr.ready:
	case <-ctx.Done():
		return nil, fmt.Errorf("conntrack in %s: %w", netnsName, ctx.Err())
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.err != nil {
		return nil, tr.err
	}
	out := make([]Conn, 0, len(tr.flows))
	for _, f := range tr.flows {
		out = append(out, connOf(f))
	}
	return out, nil
}

// follow starts following a namespace's conntrack table.
func follow(netnsName string) *tracked {
	tr := &tracked{id: kernel.NetnsID(netnsName), ready: make(chan struct{}), done: make(chan struct{}),
		events: make(chan conntrack.Event, 1024), flows: map[uint32]conntrack.Flow{}}
	go tr.run(netnsName)
	return tr
}

// run subscribes, dumps, then applies events and refreshes counters until
// closed.
func (tr *tracked) run(netnsName string) {
	errs, err := tr.subscribe(netnsName)
	if err != nil {
		tr.mu.Lock()
		tr.err = err
		tr.mu.Unlock()
	}
	close(tr.ready)
	tick := time.NewTicker(refreshEvery)
	defer tick.Stop()
	for {
		select {
		case <-tr.done:
			tr.shutdown(errs)
			return
		case <-tick.C:
			if err == nil {
				tr.refresh()
			}
		case e := <-errs:
			if e != nil && err == nil {
				err = e
				tr.mu.Lock()
				tr.err = fmt.Errorf("conntrack events in %s: %w", netnsName, e)
				tr.mu.Unlock()
			}
		case ev := <-tr.events:
			if ev.Flow != nil {
				tr.apply(ev)
			}
		}
	}
}

// subscribe opens the sockets inside the namespace, subscribes to its
// events, then dumps its table once (in that order, so nothing falls
// between the two). The events channel fills meanwhile; run drains it.
func (tr *tracked) subscribe(netnsName string) (chan error, error) {
	err := kernel.Do(netnsName, func() error {
		var err error
		if tr.listen, err = conntrack.Dial(nil); err != nil {
			return err
		}
		tr.query, err = conntrack.Dial(nil)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("conntrack in %s: %w", netnsName, err)
	}
	errs, err := tr.listen.Listen(tr.events, 1, netfilter.GroupsCT)
	if err != nil {
		return nil, fmt.Errorf("conntrack events in %s: %w", netnsName, err)
	}
	flows, err := tr.query.Dump(nil)
	if err != nil {
		return errs, fmt.Errorf("dump conntrack in %s: %w", netnsName, err)
	}
	tr.mu.Lock()
	for _, f := range flows {
		tr.flows[f.ID] = f
	}
	tr.mu.Unlock()
	return errs, nil
}

// shutdown closes the sockets. Closing the subscription waits for its
// worker, which may be blocked handing over an event or an error: keep
// taking both until it is gone.
func (tr *tracked) shutdown(errs chan error) {
	if tr.query != nil {
		tr.query.Close()
	}
	if tr.listen == nil {
		return
	}
	closed := make(chan struct{})
	go func() {
		tr.listen.Close()
		close(closed)
	}()
	for {
		select {
		case <-closed:
			return
		case <-tr.events:
		case <-errs:
		}
	}
}

func (tr *tracked) apply(ev conntrack.Event) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	f := *ev.Flow
	if ev.Type == conntrack.EventDestroy {
		delete(tr.flows, f.ID)
		return
	}
	if old, ok := tr.flows[f.ID]; ok && f.CountersOrig.Bytes+f.CountersReply.Bytes == 0 {
		// An event without counters.
		f.CountersOrig, f.CountersReply = old.CountersOrig, old.CountersReply
	}
	tr.flows[f.ID] = f
}

// refresh reads the current byte counts of (up to refreshMax) live flows.
func (tr *tracked) refresh() {
	tr.mu.Lock()
	todo := make([]conntrack.Flow, 0, min(len(tr.flows), refreshMax))
	for _, f := range tr.flows {
		if len(todo) == refreshMax {
			break
		}
		todo = append(todo, f)
	}
	tr.mu.Unlock()
	for _, f := range todo {
		got, err := tr.query.Get(f)
		if err != nil {
			continue // gone since; its DESTROY event removes it
		}
		tr.mu.Lock()
		if cur, ok := tr.flows[f.ID]; ok {
			cur.CountersOrig, cur.CountersReply = got.CountersOrig, got.CountersReply
			tr.flows[f.ID] = cur
		}
		tr.mu.Unlock()
	}
}

func (tr *tracked) failed() error {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.err
}

// close tells the subscription's goroutine to end; it does not wait.
func (tr *tracked) close() { tr.stop.Do(func() { close(tr.done) }) }

// Close ends every subscription, without waiting for the kernel.
func (t *Tracker) Close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, tr := range t.nodes {
		tr.close()
		delete(t.nodes, k)
	}
}

func connOf(f conntrack.Flow) Conn {
	o, r := f.TupleOrig, f.TupleReply
	c := Conn{
		ID:       f.ID,
		Proto:    protoName(o.Proto.Protocol),
		Client:   netip.AddrPortFrom(o.IP.SourceAddress, o.Proto.SourcePort),
		Dest:     netip.AddrPortFrom(o.IP.DestinationAddress, o.Proto.DestinationPort),
		Endpoint: netip.AddrPortFrom(r.IP.SourceAddress, r.Proto.SourcePort),
		Bytes:    f.CountersOrig.Bytes + f.CountersReply.Bytes,
		State:    "-",
	}
	if f.ProtoInfo.TCP != nil {
		c.State = tcpStates[f.ProtoInfo.TCP.State%uint8(len(tcpStates))]
	} else if f.Status.SeenReply() {
		c.State = "REPLIED"
	} else {
		c.State = "UNREPLIED"
	}
	if f.Timestamp.Start != (time.Time{}) {
		c.Started = f.Timestamp.Start
	}
	return c
}

// tcpStates are conntrack's TCP states, by number.
var tcpStates = []string{"NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "CLOSE", "SYN_SENT2"}

func protoName(p uint8) string {
	switch p {
	case 1:
		return "ICMP"
	case 2:
		return "IGMP" // the bridges' multicast membership reports
	case 6:
		return "TCP"
	case 17:
		return "UDP"
	case 132:
		return "SCTP"
	}
	return fmt.Sprint(p)
}
