// Package nft applies the service proxy's rulesets (package lab/proxy) to a
// node's network namespace with nf_tables, through a netlink socket opened
// inside that namespace — no thread ever enters it and no nft binary runs.
// It is the only package that imports github.com/google/nftables.
//
// Every change is one nf_tables transaction: a full load replaces any old
// kinn table atomically (add, delete, re-add the table, then everything),
// an incremental Apply carries out proxy.Diff's ops. Batches are large (a
// message per rule, and the kernel acknowledges each), so the socket's
// buffers are sized to the batch before it is sent.
//
// Someone may change the table by hand; Repair (drift.go) finds out from
// the namespace's ruleset generation, reads the table back, compares it
// with what kinn wrote and restores the difference.
package nft

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"kinn.dev/kinn/lab/kernel"
	"kinn.dev/kinn/lab/proxy"
	"kinn.dev/kinn/lab/service"
)

// Table is one node's kinn table, reached through a netlink socket in the
// node's namespace. Every method holds mu while it uses conn, and none uses
// it after Close: with its lasting socket closed, the nftables library
// would dial a new one in whatever namespace ns's descriptor number names by
// then — none (EBADF), the host's own, or another node's.
type Table struct {
	mu     sync.Mutex
	closed bool
	netns  string
	ns     *os.File // keeps the namespace reference alive while conn lives
	conn   *nftables.Conn
	nl     *netlink.Conn // the socket under conn, to size its buffers
	table  *nftables.Table
	// synced is what the last Sync wrote, for the next one's changes and
	// for Repair's comparisons.
	synced *syncedState
	// verified is the ruleset generation at which the table was last known
	// to be as kinn wants it; 0 (a generation the kernel never uses) when
	// it is not known. See drift.go.
	verified uint32
	// sum is the table's fingerprint at generation verified, nil when
	// not known (fingerprint.go).
	sum []byte
	// changes tells which commits touched the table (changes.go), from
	// the first Repair on; nil when they cannot be listened to.
	changes *changes
}

type syncedState struct {
	node  proxy.Node
	ports []service.Port
	rs    *proxy.Ruleset // set by SyncRuleset: the ruleset itself
}

// want is the ruleset the last sync wrote.
func (s *syncedState) want() *proxy.Ruleset {
	if s.rs != nil {
		return s.rs
	}
	return proxy.Build(s.node, s.ports)
}

// Open connects to the kinn table (the service proxy's) in the nf_tables
// of the named network namespace.
func Open(netnsName string) (*Table, error) { return OpenTable(netnsName, proxy.TableName) }

// OpenTable is Open for another table of family ip (NetworkPolicy's): the
// same loading, incremental changes and drift repair, of rulesets its
// caller builds (SyncRuleset).
func OpenTable(netnsName, name string) (*Table, error) {
	f, err := os.Open(kernel.NetnsPath(netnsName))
	if err != nil {
		return nil, fmt.Errorf("open namespace %s: %w", netnsName, err)
	}
	t := &Table{netns: netnsName, ns: f, table: &nftables.Table{Name: name, Family: nftables.TableFamilyIPv4}}
	if err := t.dial(); err != nil {
		f.Close()
		return nil, err
	}
	return t, nil
}

func (t *Table) dial() error {
	keep := func(c *netlink.Conn) error { t.nl = c; return nil }
	conn, err := nftables.New(nftables.WithNetNSFd(int(t.ns.Fd())), nftables.AsLasting(), nftables.WithSockOptions(keep))
	if err != nil {
		return fmt.Errorf("nftables in %s: %w", t.netns, err)
	}
	t.conn = conn
	return nil
}

// discard drops a half-queued batch (the library cannot) by replacing the
// connection, so a failed encoding never sends part of a transaction.
func (t *Table) discard() error {
	t.conn.CloseLasting()
	return t.dial()
}

// Close releases the socket and the namespace reference; later calls fail
// with os.ErrClosed. Closing twice is fine.
func (t *Table) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	t.changes.close()
	err := t.conn.CloseLasting()
	return errors.Join(err, t.ns.Close())
}

// usable is nil unless the Table was closed; call it with mu held, before
// any use of conn.
func (t *Table) usable() error {
	if t.closed {
		return fmt.Errorf("table %s in %s: %w", t.table.Name, t.netns, os.ErrClosed)
	}
	return nil
}

// Load replaces whatever kinn table the namespace has with rs, in one
// transaction: the rules never pass through an empty or half state.
func (t *Table) Load(rs *proxy.Ruleset) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.load(rs); err != nil {
		return err
	}
	t.synced = nil // a ruleset from elsewhere: the next Sync loads in full
	return nil
}

// load is Load with t.mu held.
func (t *Table) load(rs *proxy.Ruleset) error {
	err := t.commit(true, 0, func() error {
		// Adding first makes the delete valid whether or not the table exists.
		t.conn.AddTable(t.table)
		t.conn.DelTable(t.table)
		t.conn.AddTable(t.table)
		return t.flush(proxy.Diff(nil, rs))
	})
	if err != nil {
		return fmt.Errorf("load table %s in %s: %w", t.table.Name, t.netns, err)
	}
	return nil
}

// Apply carries out incremental ops (from proxy.Diff) in one transaction.
func (t *Table) Apply(ops []proxy.Op) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.commit(false, t.verified, func() error { return t.flush(ops) }); err != nil {
		return fmt.Errorf("update table %s in %s: %w", t.table.Name, t.netns, err)
	}
	t.synced = nil // unknown now: the caller's old ruleset may not be ours
	return nil
}

// Sync brings the table to the node's service ports: with only the
// changes of the service ports that differ since the last Sync, in one
// transaction; or with a full load the first time, when the node's
// addresses or networks changed, when the table is gone (deleted by hand) or when the
// kernel refused the increment. It reports whether it loaded in full.
func (t *Table) Sync(node proxy.Node, ports []service.Port) (full bool, err error) {
	return t.syncTo(&syncedState{node: node, ports: ports}, func(last *syncedState) ([]proxy.Op, bool) {
		if last.rs != nil || !last.node.Equal(node) {
			return nil, false
		}
		return proxy.Changes(node, last.ports, ports), true
	})
}

// SyncRuleset brings a table other than the proxy's to rs: with
// proxy.Diff from the ruleset of the last SyncRuleset, in one
// transaction, or in full the first time, when the table is gone or the
// kernel refused the increment. It reports whether it loaded in full.
func (t *Table) SyncRuleset(rs *proxy.Ruleset) (full bool, err error) {
	return t.syncTo(&syncedState{rs: rs}, func(last *syncedState) ([]proxy.Op, bool) {
		if last.rs == nil {
			return nil, false
		}
		return proxy.Diff(last.rs, rs), true
	})
}

// syncTo brings the table to next: by the increment from the last sync
// when there is one (ok), the table still exists and the kernel takes it
// (refused, nothing of it was applied), else by a full load.
func (t *Table) syncTo(next *syncedState, increment func(last *syncedState) (ops []proxy.Op, ok bool)) (full bool, err error) {
	t.mu.Lock()
	last := t.synced
	t.mu.Unlock()
	exists, err := t.Exists()
	if err != nil {
		return false, err
	}
	if last != nil && exists {
		if ops, ok := increment(last); ok {
			if len(ops) == 0 {
				return false, nil
			}
			if err := t.Apply(ops); err == nil {
				t.remember(next)
				return false, nil
			}
		}
	}
	if err := t.Load(next.want()); err != nil {
		return true, err
	}
	t.remember(next)
	return true, nil
}

func (t *Table) remember(s *syncedState) {
	t.mu.Lock()
	t.synced = s
	t.mu.Unlock()
}

// Exists reports whether the kinn table is present: false after someone
// deleted it by hand, so the caller can reload.
func (t *Table) Exists() (bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.exists()
}

// exists is Exists with t.mu held.
func (t *Table) exists() (bool, error) {
	if err := t.usable(); err != nil {
		return false, err
	}
	tables, err := t.conn.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return false, fmt.Errorf("list tables in %s: %w", t.netns, err)
	}
	for _, tb := range tables {
		if tb.Name == t.table.Name {
			return true, nil
		}
	}
	return false, nil
}

// Delete removes the kinn table and everything in it; a missing table is fine.
func (t *Table) Delete() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.usable(); err != nil {
		return err
	}
	t.conn.AddTable(t.table)
	t.conn.DelTable(t.table)
	t.synced, t.verified, t.sum = nil, 0, nil
	if err := t.conn.Flush(); err != nil {
		return fmt.Errorf("delete table %s in %s: %w", t.table.Name, t.netns, err)
	}
	return nil
}

// flush queues ops and sends them as one transaction.
func (t *Table) flush(ops []proxy.Op) error {
	n := 3
	for _, op := range ops {
		m, err := t.queue(op)
		if err != nil {
			return errors.Join(err, t.discard())
		}
		n += m
	}
	if err := t.sizeBuffers(n); err != nil {
		return err
	}
	return t.conn.Flush()
}

// elemChunk bounds the elements per message: a netlink attribute's length
// is 16 bits, so one message cannot carry thousands of elements.
const elemChunk = 256

// queue adds one op's messages to the batch and returns how many.
func (t *Table) queue(op proxy.Op) (int, error) {
	c := t.conn
	switch op.Kind {
	case proxy.OpAddChain:
		c.AddChain(hooked(t.table, op.Chain))
	case proxy.OpFlushChain:
		c.FlushChain(&nftables.Chain{Name: op.Chain.Name, Table: t.table})
	case proxy.OpDelChain:
		c.DelChain(&nftables.Chain{Name: op.Chain.Name, Table: t.table})
	case proxy.OpAddMap:
		return 1, c.AddSet(set(t.table, op.Map), nil)
	case proxy.OpDelMap:
		c.DelSet(set(t.table, op.Map))
	case proxy.OpAddRules:
		for _, r := range op.Chain.Rules {
			nr, err := rule(t.table, op.Chain.Name, r)
			if err != nil {
				return 0, err
			}
			c.AddRule(nr)
		}
		return len(op.Chain.Rules), nil
	case proxy.OpAddElems, proxy.OpDelElems:
		s, all := set(t.table, op.Map), elems(op.Map)
		n := 0
		for len(all) > 0 {
			part := all[:min(elemChunk, len(all))]
			all = all[len(part):]
			var err error
			if op.Kind == proxy.OpAddElems {
				err = c.SetAddElements(s, part)
			} else {
				err = c.SetDeleteElements(s, part)
			}
			if err != nil {
				return 0, fmt.Errorf("%s: %w", op, err)
			}
			n++
		}
		return n, nil
	default:
		return 0, fmt.Errorf("unknown op %v", op.Kind)
	}
	return 1, nil
}

// sizeBuffers makes the socket able to send a batch of n messages at once
// and to queue the kernel's n acknowledgements (it sends them all at the
// end of the batch; any that do not fit are lost and the read fails with
// ENOBUFS). The FORCE options exceed the sysctl limits, as root may.
func (t *Table) sizeBuffers(n int) error {
	if t.nl == nil {
		return nil // test dial
	}
	raw, err := t.nl.SyscallConn()
	if err != nil {
		return err
	}
	size := max(n*1024, 1<<20)
	var serr error
	err = raw.Control(func(fd uintptr) {
		serr = errors.Join(
			unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, size),
			unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, size),
		)
	})
	if err = errors.Join(err, serr); errors.Is(err, syscall.EPERM) {
		return nil // unprivileged: keep the defaults, small batches still work
	}
	return err
}
