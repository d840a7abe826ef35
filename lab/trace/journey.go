// Package trace tells one probe's journey through a lab, hop by hop, from
// what the kernel reported: nf_tables trace events per namespace, the FIB's
// answers, conntrack entries and what the prober saw. It is pure: the
// kernel side (package lab/kernel/nftrace, lab/kernel/nft, lab/kernel)
// gathers the facts, package lab orchestrates, and this package orders
// them, names each rule's Kubernetes owner and renders the story.
//
// Ordering: the kernel says neither the hook of an event nor the order of
// events across namespaces (each namespace has its own socket). Within a
// namespace the socket's order is the packet's. Across namespaces the
// packet's TTL orders them (every routing hop decrements it); the source
// namespace comes first for the request, and among equal TTLs (a bridge
// does not route) the time of receipt decides.
package trace

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"kinn.dev/kinn/lab/proxy"
)

// TablePrefix starts the name of the temporary trace tables; their own
// events are the marking, not the journey, and are left out.
const TablePrefix = "kinn-trace-"

// Verdicts of a journey.
const (
	Delivered = "delivered" // delivered and answered
	RefusedV  = "refused"   // RST or ICMP unreachable came back
	Dropped   = "dropped"   // no answer within the timeout
	Error     = "error"     // the probe could not be sent
)

// Components of a hop.
const (
	CompRoute     = "route"
	CompBridge    = "bridge"
	CompNftables  = "nftables"
	CompConntrack = "conntrack"
	CompSocket    = "socket"
	CompDrop      = "drop"
)

// Hop is one step of the journey, in one namespace.
type Hop struct {
	Namespace string `json:"namespace"`
	Node      string `json:"node,omitempty"`
	Pod       string `json:"pod,omitempty"` // namespace/name
	Component string `json:"component"`
	Action    string `json:"action"`
	Detail    string `json:"detail,omitempty"`
	Rule      string `json:"rule,omitempty"` // nft syntax, for nftables hops
	Owner     *Owner `json:"owner,omitempty"`
}

// Journey is the whole story.
type Journey struct {
	Verdict string `json:"verdict"`
	Summary string `json:"summary"`
	Request []Hop  `json:"request"`
	Reply   []Hop  `json:"reply"`
	// Notes are remarks on the trace itself (what could not be watched),
	// for -v; not part of the journey's schema.
	Notes []string `json:"-"`
}

// Place is what a namespace of the lab is.
type Place struct {
	Netns string
	Node  string // the node it is, or the node a pod runs on
	Pod   string // namespace/name, for a pod
	What  string // "pod", "node" or "switch"
}

// Input is everything the kernel told about one probe.
type Input struct {
	Probe   ProbeResult
	DSCP    uint8
	Src     string // the source namespace
	Target  string // what was asked for: "Service default/web 10.96.0.10:80/TCP"
	Service *Owner // the Service asked for, if any
	Places  map[string]Place
	Events  []Event
	Rules   map[string]map[RuleKey]RuleInfo // per namespace: kinn's table
	Links   map[string]map[int]string       // per namespace: ifindex -> name
	Routes  map[string]Route                // per namespace, for the request
	Back    map[string]Route                // per namespace, for the reply
	// Hooks names the hook of each base chain (kinn's, and the trace
	// table's prerouting and output), to place the routing decision
	// between prerouting and what follows it.
	Hooks map[string]string
	Flows []Flow
	Net   Net
	// Drops are the kernel's own reports of the probe's packets it
	// dropped, with its reason; Notes say what could not be watched.
	Drops []KernelDrop
	Notes []string

	// Others are the rules of other tables (tables.go), per namespace, and
	// Sandboxes the pods by CNI container ID, which their comments may name.
	Others    map[string]map[TableRuleKey]TableRule
	Sandboxes map[string]string
}

// Net is the lab's addressing, to explain routes in its terms.
type Net struct {
	VTEP      string // the VXLAN device's name ("" without an overlay)
	Bridge    string // the nodes' pod bridge
	SwitchIP  netip.Addr
	Nodes     []NetNode
	PodSubnet netip.Prefix

	// Chain is set when the user's CNI chain attached the pods: its own
	// devices (bridge, veths) are not kinn's, and Bridge is "".
	Chain bool
}

// NetNode is one node's addresses.
type NetNode struct {
	Name     string
	Underlay netip.Addr
	PodCIDR  netip.Prefix
	Gateway  netip.Addr
}

// Explain builds the journey.
func Explain(in Input) Journey {
	j := Journey{Request: []Hop{}, Reply: []Hop{}} // [] in JSON, never null
	req, rep := split(in)
	if r, ok := in.Routes[in.Src]; ok && !slices.ContainsFunc(req, func(g group) bool { return g.netns == in.Src }) {
		pl := in.Places[in.Src]
		j.Request = append(j.Request, in.routeHop(Hop{Namespace: in.Src, Node: pl.Node, Pod: pl.Pod}, r, pl))
	}
	for _, g := range req {
		j.Request = append(j.Request, in.hops(g, true)...)
	}
	for _, g := range rep {
		j.Reply = append(j.Reply, in.hops(g, false)...)
	}
	if in.Probe.Outcome == Answered {
		in.delivered(&j)
	}
	in.addKernelDrops(&j)
	j.Notes = in.Notes
	j.Verdict, j.Summary = in.verdict(&j)
	return j
}

// delivered ends both directions at their sockets: the prober saw the
// answer, so the request reached a listener where it was last traced.
func (in Input) delivered(j *Journey) {
	if n := len(j.Request); n > 0 {
		last := j.Request[n-1]
		h := Hop{Namespace: last.Namespace, Node: last.Node, Pod: last.Pod, Component: CompSocket,
			Action: answeredBy(in.Probe.Proto)}
		j.Request = append(j.Request, h)
	}
	pl := in.Places[in.Src]
	j.Reply = append(j.Reply, Hop{Namespace: in.Src, Node: pl.Node, Pod: pl.Pod, Component: CompSocket,
		Action: "the answer reached the prober (" + endpoint(in.Probe.Src, in.Probe.Proto) + ")"})
}

// Seen is the request's packet in one namespace, as routing saw it: the
// device it came in by (0 when the namespace sent it) and its addresses
// once translated.
type Seen struct {
	IIF      uint32
	Src, Dst netip.Addr
	DstMAC   string // the frame's destination where it arrived
}

// PacketSeen lists where the request (or the reply) went, for the FIB
// questions to ask.
func PacketSeen(in Input, request bool) map[string]Seen {
	req, rep := split(in)
	if !request {
		req = rep
	}
	out := map[string]Seen{}
	for _, g := range req {
		first, last := g.events[0], g.events[len(g.events)-1]
		out[g.netns] = Seen{IIF: first.IIF, Src: last.Packet.Src, Dst: last.Packet.Dst, DstMAC: first.Packet.DstMAC}
	}
	return out
}

// group is the events of one packet in one namespace.
type group struct {
	netns  string
	events []Event
}

// split sorts the events into the request's and the reply's groups, in the
// order the packet crossed the namespaces.
func split(in Input) (req, rep []group) {
	byKey := map[[2]string]*group{}
	first := map[[2]string]Packet{}
	var order [][2]string
	// The kernel sends a packet's headers with its first event in each
	// hook only; the events that follow it there carry the same trace id.
	last := map[string]map[uint32]Packet{}
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
		dir := "reply"
		if ev.Packet.DSCP == in.DSCP {
			dir = "request"
		}
		k := [2]string{ev.Netns, dir}
		p, seen := first[k]
		if !seen {
			first[k] = ev.Packet
			byKey[k] = &group{netns: ev.Netns}
			order = append(order, k)
		} else if !p.same(ev.Packet) {
			continue // a later packet of the connection (an ACK, a retransmission)
		}
		byKey[k].events = append(byKey[k].events, ev)
	}
	for _, k := range order {
		g := *byKey[k]
		slices.SortFunc(g.events, func(a, b Event) int { return a.Seq - b.Seq })
		if k[1] == "request" {
			req = append(req, g)
		} else {
			rep = append(rep, g)
		}
	}
	sortGroups(req, in, in.Src, false)
	sortGroups(rep, in, in.Src, true)
	return req, rep
}

// sortGroups orders the namespaces by where they stand from src: src, its
// node (for a pod), the switch, the other nodes, the other pods; the
// reply's in reverse. Equal places go by TTL (one less per routing hop),
// then by when their first event arrived.
func sortGroups(gs []group, in Input, src string, reverse bool) {
	rank := func(g group) int {
		r := in.distance(src, g.netns)
		if reverse {
			return -r
		}
		return r
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

// hops tells one namespace's part.
func (in Input) hops(g group, request bool) []Hop {
	pl := in.Places[g.netns]
	base := Hop{Namespace: g.netns, Node: pl.Node, Pod: pl.Pod}
	routes := in.Back
	if request {
		routes = in.Routes
	}
	route, routed := routes[g.netns]
	var out []Hop
	hook := ""
	for _, ev := range g.events {
		if h, ok := in.Hooks[ev.Chain]; ok {
			hook = h
		}
		// The FIB decides after prerouting (and before output, which
		// sees a routed packet): the first event of another hook follows it.
		if routed && hook != "prerouting" {
			out, routed = append(out, in.routeHop(base, route, pl)), false
		}
		if h, ok := in.ruleHop(base, ev); ok {
			out = append(out, h)
		}
	}
	if routed {
		out = append(out, in.routeHop(base, route, pl))
	}
	if !request {
		for _, f := range in.Flows {
			if f.Netns != g.netns {
				continue
			}
			var undo []string
			if f.ReplySrc != f.OrigDst {
				undo = append(undo, fmt.Sprintf("un-DNATed: source %s -> %s", f.ReplySrc, f.OrigDst))
			}
			if f.ReplyDst != f.OrigSrc {
				undo = append(undo, fmt.Sprintf("un-SNATed: destination %s -> %s", f.ReplyDst, f.OrigSrc))
			}
			if len(undo) > 0 {
				h := base
				h.Component, h.Action = CompConntrack, "reply "+strings.Join(undo, ", ")
				out = append(out, h)
			}
		}
		return out
	}
	// The connection's entry, as the node keeps it (confirmed once the
	// packet left): after the namespace's own hops.
	for _, f := range in.Flows {
		if f.Netns == g.netns {
			out = append(out, flowHop(base, f))
		}
	}
	return out
}

// ruleHop is one nftables event; false for the uneventful (a chain that
// ended without a verdict, a base chain's accepting policy).
func (in Input) ruleHop(base Hop, ev Event) (Hop, bool) {
	h := base
	h.Component = CompNftables
	if strings.HasPrefix(ev.Table, TablePrefix) {
		return h, false // the marking, not the journey
	}
	switch ev.Type {
	case EventReturn:
		return h, false
	case EventRule:
		if ev.Handle == 0 && ev.Verdict == VerdictContinue {
			return h, false // the end of a chain, reported as a rule
		}
	case EventPolicy:
		if ev.Policy != VerdictDrop && ev.Verdict != VerdictDrop {
			return h, false
		}
		h.Component, h.Action = CompDrop, "dropped by the policy of chain "+ev.Chain
		return h, true
	}
	ri, known := in.Rules[ev.Netns][RuleKey{ev.Chain, ev.Handle}]
	if oh, ok := in.otherRuleHop(h, ev); !known && ok {
		return oh, true
	}
	if !known {
		h.Action = fmt.Sprintf("%s: table %s chain %s rule handle %d", ev.Verdict, ev.Table, ev.Chain, ev.Handle)
		if ev.Table == proxy.TableName && in.Rules[ev.Netns] != nil {
			h.Detail = "a rule kinn did not build (the table was edited?)"
		}
		if ev.Verdict == VerdictDrop {
			h.Component = CompDrop
		}
		return h, true
	}
	h.Rule = ri.Rule.String()
	h.Owner = ri.Owner
	h.Action, h.Detail = ruleAction(ev, ri)
	if ri.Owner == nil && (ev.Chain == proxy.ChainReject || ev.Chain == proxy.ChainEndpointsCheck) {
		h.Owner = in.Service
	}
	if ev.Verdict == VerdictDrop {
		h.Component = CompDrop
	}
	return h, true
}

// ruleAction says what a matched rule did.
func ruleAction(ev Event, ri RuleInfo) (action, detail string) {
	chain := "chain " + ri.Chain
	if ri.Meaning != "" {
		chain += " (" + ri.Meaning + ")"
	}
	if ri.Detail != "" {
		chain += ": " + ri.Detail
	}
	for _, e := range ri.Rule.Exprs {
		switch e := e.(type) {
		case proxy.DNAT:
			return fmt.Sprintf("DNAT to %s", netip.AddrPortFrom(e.Addr, e.Port)), chain
		case proxy.Reject:
			if ri.Chain == proxy.ChainReject {
				return "rejected: no ready endpoints (ICMP port unreachable)", chain
			}
			return "rejected (ICMP port unreachable)", chain
		case proxy.Masquerade:
			return "masquerade (source NAT to the outgoing interface's address)", chain
		case proxy.MarkMasq:
			return "marked for masquerade (0x4000)", chain
		case proxy.MarkClear:
			return "mark 0x4000 cleared before masquerading", chain
		}
	}
	if ri.Chain == proxy.ChainMasquerading && ev.Verdict == VerdictReturn {
		return "return: not marked 0x4000, so no source NAT", chain
	}
	switch ev.Verdict {
	case VerdictJump, VerdictGoto:
		return ev.Verdict.String() + " " + ev.Target, chain
	case VerdictDrop:
		if ri.Chain == proxy.ChainClusterIPsCheck {
			return "dropped: no Service owns this address of the service network", chain
		}
		return "drop", chain
	}
	return ev.Verdict.String(), chain
}

func flowHop(base Hop, f Flow) Hop {
	h := base
	h.Component = CompConntrack
	var nat []string
	if f.ReplySrc != f.OrigDst {
		nat = append(nat, fmt.Sprintf("DNAT %s -> %s", f.OrigDst, f.ReplySrc))
	}
	if f.ReplyDst != f.OrigSrc {
		nat = append(nat, fmt.Sprintf("SNAT %s -> %s", f.OrigSrc, f.ReplyDst))
	}
	h.Action = "connection tracked"
	if len(nat) > 0 {
		h.Action += ": " + strings.Join(nat, ", ")
	}
	p := map[uint8]string{1: "icmp", 6: "tcp", 17: "udp"}[f.Proto]
	h.Detail = fmt.Sprintf("original %s -> %s, reply %s -> %s", endpoint(f.OrigSrc, p), endpoint(f.OrigDst, p), endpoint(f.ReplySrc, p), endpoint(f.ReplyDst, p))
	if f.State != "" {
		h.Detail += ", " + f.State
	}
	return h
}

// verdict is the journey's end, from what the prober saw, and the hop
// that decided it.
func (in Input) verdict(j *Journey) (string, string) {
	p := in.Probe
	switch p.Outcome {
	case Answered:
		return Delivered, fmt.Sprintf("%s answered %s", endpoint(p.Dst, p.Proto), strings.ToUpper(p.Proto))
	case Failed:
		return Error, "the probe could not be sent: " + p.Error
	}
	v := RefusedV
	if p.Outcome == NoAnswer {
		v = Dropped
	}
	last := lastWord(j.Request)
	if last == nil {
		return v, fmt.Sprintf("%s (%s); no hop was traced", v, p.Error)
	}
	where := last.Pod
	if where == "" {
		where = last.Node
	}
	s := fmt.Sprintf("%s (%s) in %s: %s", v, p.Error, cmp.Or(where, last.Namespace), last.Action)
	if last.Owner != nil {
		s += " [" + last.Owner.String() + "]"
	}
	return v, s
}

// lastWord is the hop that ended the request: a drop or reject if one was
// traced, else the last hop seen.
func lastWord(hops []Hop) *Hop {
	for i := range hops {
		if hops[i].Component == CompDrop {
			return &hops[i]
		}
	}
	if len(hops) == 0 {
		return nil
	}
	return &hops[len(hops)-1]
}

// endpoint prints an address and port, or the address alone for ICMP
// (whose "port" is the echo identifier).
func endpoint(ap netip.AddrPort, proto string) string {
	if proto == "icmp" {
		if !ap.Addr().IsValid() {
			return "echo id " + fmt.Sprint(ap.Port())
		}
		return ap.Addr().String()
	}
	return ap.String()
}

func answeredBy(proto string) string {
	if proto == "icmp" {
		return "delivered: the kernel answered the echo"
	}
	return "delivered: a " + strings.ToUpper(proto) + " listener answered"
}
