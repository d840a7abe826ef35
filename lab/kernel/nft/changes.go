package nft

import (
	"encoding/binary"
	"errors"
	"os"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Which table a commit touched. The kernel multicasts every committed
// change of a namespace's ruleset (NFNLGRP_NFTABLES): each object's
// message names its table, and each commit ends with NFT_MSG_NEWGEN and
// the generation it made. A Table listens to them, so that when the
// generation moved only for other tables (a kinn trace's, portmap's)
// Repair knows the kinn table is as it verified it without reading it;
// when the messages were lost (the socket overflowed) or cannot be read
// in time, the fingerprint and then the full comparison decide, as
// without them.

// changes reads one namespace's nf_tables notifications, on demand.
type changes struct {
	c     *netlink.Conn
	table string // the table whose changes count
	// gen is the generation of the last NEWGEN read; touched the last
	// generation whose commit touched the kinn table, and lost that some
	// messages were lost since the last clear.
	gen, touched uint32
	lost         bool
	pending      bool // a message touching the table, its NEWGEN not read yet
	broken       bool // messages were lost at some unknown generation
}

// changesWait bounds how long a check waits for the notifications of a
// generation the kernel already reported (they are queued as the commit
// ends).
const changesWait = 50 * time.Millisecond

// openChanges listens to the namespace's notifications, from after
// generation since (whose own will never come).
func openChanges(ns *os.File, table string, since uint32) (*changes, error) {
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: int(ns.Fd())})
	if err != nil {
		return nil, err
	}
	if err := c.JoinGroup(unix.NFNLGRP_NFTABLES); err != nil {
		c.Close()
		return nil, err
	}
	_ = c.SetReadBuffer(1 << 20)
	return &changes{c: c, table: table, gen: since, lost: true}, nil // nothing known until a first clear
}

func (ch *changes) close() {
	if ch != nil {
		ch.c.Close()
	}
}

// reached reports whether generation a is g or later (generations wrap).
func reached(a, g uint32) bool { return int32(a-g) >= 0 }

// readTo reads the notifications up to generation g's NEWGEN; false when
// they did not come in time, or messages were lost (the kernel reports
// the loss on the next read, before what it still holds, so which
// generations lost theirs cannot be told: the socket is broken for good,
// and Repair opens another).
func (ch *changes) readTo(g uint32) bool {
	deadline := time.Now().Add(changesWait)
	for !ch.broken && !reached(ch.gen, g) {
		ch.c.SetReadDeadline(deadline)
		msgs, err := ch.c.Receive()
		if errors.Is(err, unix.ENOBUFS) {
			ch.broken = true
			break
		}
		if err != nil {
			return false // the deadline, or a broken socket: the others decide
		}
		for _, m := range msgs {
			ch.read(m)
		}
	}
	return !ch.broken
}

func (ch *changes) read(m netlink.Message) {
	if len(m.Data) < 4 {
		return
	}
	ad, err := netlink.NewAttributeDecoder(m.Data[4:])
	if err != nil {
		ch.pending = true // unreadable: count it as a change
		return
	}
	ad.ByteOrder = binary.BigEndian
	if int(m.Header.Type)&0xff == unix.NFT_MSG_NEWGEN {
		for ad.Next() {
			if ad.Type() == unix.NFTA_GEN_ID {
				g := ad.Uint32()
				if g != nextGen(ch.gen) {
					// A commit whose notifications never came (made
					// between the generation read and the join).
					ch.lost = true
				}
				ch.gen = g
			}
		}
		if ch.pending {
			ch.touched, ch.pending = ch.gen, false
		}
		return
	}
	if m.Data[0] != unix.NFPROTO_IPV4 {
		return
	}
	for ad.Next() {
		// Every object's message names its table first: NFTA_TABLE_NAME,
		// NFTA_CHAIN_TABLE, NFTA_RULE_TABLE, NFTA_SET_TABLE, ... are all 1.
		if ad.Type() == 1 && ad.String() == ch.table {
			ch.pending = true
		}
	}
}

// untouched reports whether nothing changed the kinn table after
// generation from up to generation g, as far as the notifications tell.
func (ch *changes) untouched(from, g uint32) bool {
	if ch == nil || from == 0 || !ch.readTo(g) || ch.lost || ch.gen != g {
		return false
	}
	return !reached(ch.touched, from+1)
}

// clear records that the table is known to be right at generation g:
// what was lost before it no longer matters (what was read after it
// still does; a broken socket tells nothing more).
func (ch *changes) clear(g uint32) {
	if ch != nil && g != 0 && ch.readTo(g) && ch.gen == g {
		ch.lost = false
	}
}

// usable reports whether the notifications can still be trusted.
func (ch *changes) usable() bool { return ch != nil && !ch.broken }
