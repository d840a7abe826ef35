package nft

import (
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
type Tracker struct {
	mu    sync.Mutex
	nodes map[string]*tracked
}

type tracked struct {
	id     uint64 // the namespace it follows
	listen *conntrack.Conn
	query  *conntrack.Conn // bound to the namespace: dump, then per-flow counters
	events chan conntrack.Event
	done   chan struct{}
	mu     sync.Mutex
	flows  map[uint32]conntrack.Flow // by conntrack id, with the last counters read
	err    error                     // the subscription failed: report it and start over
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
// events on the first call.
func (t *Tracker) Conns(netnsName string) ([]Conn, error) {
	t.mu.Lock()
	tr := t.nodes[netnsName]
	if tr != nil && (tr.id != kernel.NetnsID(netnsName) || tr.failed() != nil) {
		tr.close() // the namespace was recreated, or the subscription broke
		tr = nil
	}
	if tr == nil {
		var err error
		if tr, err = follow(netnsName); err != nil {
			t.mu.Unlock()
			return nil, err
		}
		t.nodes[netnsName] = tr
	}
	t.mu.Unlock()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	out := make([]Conn, 0, len(tr.flows))
	for _, f := range tr.flows {
		out = append(out, connOf(f))
	}
	return out, nil
}

// follow subscribes to a namespace's conntrack events, then dumps its
// table once (in that order, so nothing falls between the two).
func follow(netnsName string) (*tracked, error) {
	tr := &tracked{id: kernel.NetnsID(netnsName), events: make(chan conntrack.Event, 1024),
		done: make(chan struct{}), flows: map[uint32]conntrack.Flow{}}
	err := kernel.Do(netnsName, func() error {
		var err error
		if tr.listen, err = conntrack.Dial(nil); err != nil {
			return err
		}
		tr.query, err = conntrack.Dial(nil)
		return err
	})
	if err != nil {
		if tr.listen != nil {
			tr.listen.Close()
		}
		return nil, fmt.Errorf("conntrack in %s: %w", netnsName, err)
	}
	errs, err := tr.listen.Listen(tr.events, 1, netfilter.GroupsCT)
	if err != nil {
		tr.listen.Close()
		tr.query.Close()
		return nil, fmt.Errorf("conntrack events in %s: %w", netnsName, err)
	}
	flows, err := tr.query.Dump(nil)
	if err != nil {
		tr.close()
		return nil, fmt.Errorf("dump conntrack in %s: %w", netnsName, err)
	}
	for _, f := range flows {
		tr.flows[f.ID] = f
	}
	go tr.run(errs)
	return tr, nil
}

// run applies events until the subscription ends, and refreshes counters.
func (tr *tracked) run(errs chan error) {
	tick := time.NewTicker(refreshEvery)
	defer tick.Stop()
	for {
		select {
		case <-tr.done:
			return
		case <-tick.C:
			tr.refresh()
		case err := <-errs:
			if err != nil {
				tr.mu.Lock()
				tr.err = err
				tr.mu.Unlock()
				return
			}
		case ev := <-tr.events:
			if ev.Flow == nil {
				continue
			}
			tr.apply(ev)
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

func (tr *tracked) close() {
	select {
	case <-tr.done:
	default:
		close(tr.done)
	}
	tr.listen.Close()
	tr.query.Close()
}

// Close ends every subscription.
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
