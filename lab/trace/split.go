package trace

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
)

// Seen is the request's packet in one namespace, as routing saw it: the
// device it came in by (0 when the namespace sent it) and its addresses
// once translated.
type Seen struct {
	Netns    string
	IIF      uint32
	Src, Dst netip.Addr
	DstMAC   string // the frame's destination where it arrived
}

// PacketSeen lists where the request (or the reply) went, for the FIB
// questions to ask, by visit (VisitKey).
func PacketSeen(in Input, request bool) map[string]Seen {
	req, rep := split(in)
	if !request {
		req = rep
	}
	out := map[string]Seen{}
	for _, g := range req {
		first, last := g.events[0], g.events[len(g.events)-1]
		out[g.key()] = Seen{Netns: g.netns, IIF: first.IIF, Src: last.Packet.Src, Dst: last.Packet.Dst, DstMAC: first.Packet.DstMAC}
	}
	return out
}

// VisitKey names one visit of a packet to a namespace: the namespace
// itself for the first, with "#N" after it for a return (a pod reaching
// itself through its Service leaves its namespace and comes back).
func VisitKey(netns string, visit int) string {
	if visit == 0 {
		return netns
	}
	return fmt.Sprintf("%s#%d", netns, visit)
}

// group is the events of one packet in one namespace, on one visit.
type group struct {
	netns  string
	visit  int
	events []Event
}

func (g group) key() string { return VisitKey(g.netns, g.visit) }

// visitKey is a group's key while splitting.
type visitKey struct {
	netns string
	reply bool
	visit int
}

// split sorts the events into the request's and the reply's groups, in the
// order the packet crossed the namespaces.
func split(in Input) (req, rep []group) {
	byKey := map[visitKey]*group{}
	first := map[visitKey]Packet{}
	var order []visitKey
	// The kernel sends a packet's headers with its first event in each
	// hook only; the events that follow it there carry the same trace id.
	last := map[string]map[uint32]Packet{}
	// A packet that passed output or postrouting has left the namespace:
	// the same packet at prerouting again is a new visit.
	visit, left := map[visitKey]int{}, map[visitKey]bool{}
	for _, ev := range in.Events {
		if last[ev.Netns] == nil {
			last[ev.Netns] = map[uint32]Packet{}
		}
		if ev.Packet.HasHeaders {
			last[ev.Netns][ev.ID] = ev.Packet
		} else if p, ok := last[ev.Netns][ev.ID]; ok {
			ev.Packet = p
		} else {
			continue
		}
		base := visitKey{netns: ev.Netns, reply: ev.Packet.isAnswer(in.DSCP)}
		hook := in.Hooks[ev.Chain]
		if p, ok := first[base]; ok && hook == "prerouting" && left[base] && p.same(ev.Packet) {
			visit[base]++
			left[base] = false
		}
		if hook == "output" || hook == "postrouting" {
			left[base] = true
		}
		k := base
		k.visit = visit[base]
		p, seen := first[k]
		if !seen {
			first[k] = ev.Packet
			byKey[k] = &group{netns: ev.Netns, visit: k.visit}
			order = append(order, k)
		} else if !p.same(ev.Packet) {
			continue // a later packet of the connection (an ACK, a retransmission)
		}
		byKey[k].events = append(byKey[k].events, ev)
	}
	for _, k := range order {
		g := *byKey[k]
		slices.SortFunc(g.events, func(a, b Event) int { return a.Seq - b.Seq })
		if k.reply {
			rep = append(rep, g)
		} else {
			req = append(req, g)
		}
	}
	sortGroups(req, in, in.Src, false)
	sortGroups(rep, in, in.Src, true)
	return req, rep
}

// sortGroups orders the namespaces by where they stand from src: src, its
// node (for a pod), the switch, the other nodes, the other pods; the
// reply's in reverse. A return visit comes after the first visits of the
// request (it is where the packet ended), and in the reply the source's
// earlier visit is where the answer began. Equal places go by TTL (one
// less per routing hop), then by when their first event arrived.
func sortGroups(gs []group, in Input, src string, reverse bool) {
	returns := map[string]bool{}
	for _, g := range gs {
		if g.visit > 0 {
			returns[g.netns] = true
		}
	}
	rank := func(g group) int {
		r := in.distance(src, g.netns)
		switch {
		case !reverse && g.visit > 0:
			return 4
		case !reverse:
			return r
		case g.netns == src && g.visit == 0 && returns[src]:
			return -5 // the answer's origin: src answered itself
		case g.visit > 0:
			return 0
		}
		return -r
	}
	slices.SortStableFunc(gs, func(a, b group) int {
		if c := cmp.Compare(rank(a), rank(b)); c != 0 {
			return c
		}
		if c := cmp.Compare(b.events[0].Packet.TTL, a.events[0].Packet.TTL); c != 0 {
			return c
		}
		return a.events[0].At.Compare(b.events[0].At)
	})
}

// distance ranks a namespace by how far it stands from src in a lab.
func (in Input) distance(src, netns string) int {
	s, p := in.Places[src], in.Places[netns]
	switch {
	case netns == src:
		return 0
	case p.What == "node" && s.What == "pod" && p.Node == s.Node:
		return 1
	case p.What == "switch":
		return 2
	case p.What == "node":
		return 3
	}
	return 4
}
