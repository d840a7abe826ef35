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
	// and CompNeighbour, CompFDB, CompVXLAN (l2.go)
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
	// Gaps say where the story may be incomplete (events the kernel or
	// the listeners lost): always shown, since a missing hop could
	// otherwise pass for one that did not happen.
	Gaps []string `json:"gaps,omitempty"`
	// DNS is the journey of the DNS query that resolved a name given as
	// the destination (kinn trace --dns), or that got no answer.
	DNS *Journey `json:"dns,omitempty"`
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
	// dropped, with its reason; Notes say what could not be watched,
	// Gaps what was lost.
	Drops []KernelDrop
	Notes []string
	Gaps  []string

	// Others are the rules of other tables (tables.go), per namespace, and
	// Sandboxes the pods by CNI container ID, which their comments may name.
	Others map[string]map[TableRuleKey]TableRule
	// Edited names the namespaces whose kinn table differs from what kinn
	// builds: its differing chains' rules are among Others.
	Edited    map[string]bool
	Sandboxes map[string]string
}

// Net is the lab's addressing, to explain routes in its terms.
type Net struct {
	VTEP      string // the VXLAN device's name ("" without an overlay)
	Bridge    string // the nodes' pod bridge
	SwitchIP  netip.Addr
	Nodes     []NetNode
	PodSubnet netip.Prefix
	Planned   map[string]Planned    // per namespace: what kinn programs there
	Pods      map[netip.Addr]string // pod address -> NS/NAME

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
	for i, g := range rep {
		if h, ok := in.answerHop(g); ok && i == 0 {
			j.Reply = append(j.Reply, h)
		}
		j.Reply = append(j.Reply, in.hops(g, false)...)
	}
	if in.Probe.Outcome == Answered {
		in.delivered(&j)
	}
	if n := len(j.Reply); in.Probe.Outcome == Refused && n > 0 && j.Reply[n-1].Namespace == in.Src {
		h := j.Reply[n-1]
		h.Component, h.Action, h.Detail, h.Rule, h.Owner = CompSocket, "the refusal reached the prober: "+in.Probe.Error, "", "", nil
		j.Reply = append(j.Reply, h)
	}
	in.addKernelDrops(&j)
	j.Notes, j.Gaps = in.Notes, in.Gaps
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

// hops tells one namespace's part.
func (in Input) hops(g group, request bool) []Hop {
	pl := in.Places[g.netns]
	base := Hop{Namespace: g.netns, Node: pl.Node, Pod: pl.Pod}
	routes := in.Back
	if request {
		routes = in.Routes
	}
	route, routed := routes[g.key()]
	out := in.arrival(base, route, pl)
	hook := ""
	via := map[string]string{} // chain -> the chain that jumped to it
	dropped := false
	for _, ev := range g.events {
		if h, ok := in.Hooks[ev.Chain]; ok {
			hook = h
		}
		// The FIB decides after prerouting (and before output, which
		// sees a routed packet): the first event of another hook follows it.
		if routed && hook != "prerouting" {
			out, routed = append(out, in.routeHop(base, route, pl)), false
		}
		if ev.Target != "" {
			via[ev.Target] = ev.Chain
		}
		if h, ok := in.ruleHop(base, ev, via[ev.Chain]); ok {
			out = append(out, h)
			if h.Component == CompDrop {
				routed, dropped = false, true // no route was taken after it, nothing left
			}
		}
	}
	if routed {
		out = append(out, in.routeHop(base, route, pl))
	}
	if !dropped {
		out = append(out, in.departure(base, route, pl)...)
	}
	if !request {
		for _, f := range in.Flows {
			if f.Netns != g.netns || g.visit > 0 {
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
		if f.Netns == g.netns && g.visit == 0 {
			out = append(out, flowHop(base, f))
		}
	}
	return out
}

// ruleHop is one nftables event; false for the uneventful (a chain that
// ended without a verdict, a base chain's accepting policy). from is the
// chain that jumped to the event's, if known.
func (in Input) ruleHop(base Hop, ev Event, from string) (Hop, bool) {
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
	h.Action, h.Detail = ruleAction(ev, ri, from)
	if ri.Owner == nil && (ev.Chain == proxy.ChainReject || ev.Chain == proxy.ChainEndpointsCheck) {
		h.Owner = in.Service
	}
	if ev.Verdict == VerdictDrop {
		h.Component = CompDrop
	}
	return h, true
}

// ruleAction says what a matched rule did; from is the chain that jumped
// to its chain.
func ruleAction(ev Event, ri RuleInfo, from string) (action, detail string) {
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
			switch {
			case ri.Chain == proxy.ChainReject && from == proxy.ChainClusterIPsCheck:
				return "rejected: no port of the Service at this address matches (ICMP port unreachable; kube-proxy rejects what no Service port serves)", chain
			case ri.Chain == proxy.ChainReject:
				return "rejected: no ready endpoints (ICMP port unreachable)", chain
			}
			return "rejected (ICMP port unreachable)", chain
		case proxy.Masquerade:
			return "masquerade (source NAT to the outgoing interface's address)", chain
		case proxy.MarkMasq:
			return "marked for masquerade (0x4000)", chain
		case proxy.SaddrIs:
			if ev.Target == proxy.ChainMarkMasq {
				return "hairpin: the pod reaches itself through its Service, so it is masqueraded (its answer must come back through the node to be un-DNATed)", chain
			}
		case proxy.MarkClear:
			return "mark 0x4000 cleared before masquerading", chain
		}
	}
	if ri.Chain == proxy.ChainMasquerading && ev.Verdict == VerdictReturn {
		return "return: not marked 0x4000, so no source NAT", chain
	}
	switch ev.Verdict {
	case VerdictJump, VerdictGoto:
		return pickWords(ri) + ev.Verdict.String() + " " + ev.Target, chain
	case VerdictDrop:
		if ri.Chain == proxy.ChainClusterIPsCheck {
			return "dropped: no Service owns this address of the service network", chain
		}
		if w := localDrop(ri); w != "" {
			return w, chain
		}
		if hasExpr[proxy.SaddrPrefix](ri.Rule) {
			return "dropped: the source is outside the Service's loadBalancerSourceRanges", chain
		}
		return "drop", chain
	}
	return ev.Verdict.String(), chain
}

// localDrop words the drop of a Local traffic policy with no endpoint on
// this node (kube-proxy drops rather than forward to another node), from
// the no-endpoint map the rule looked up; "" for other drops.
func localDrop(ri RuleInfo) string {
	for _, e := range ri.Rule.Exprs {
		if v, ok := e.(proxy.Vmap); ok {
			switch v.Map {
			case proxy.MapNoEndpointNodePort:
				return "dropped: NodePort with externalTrafficPolicy Local and no endpoint on this node"
			case proxy.MapNoEndpointServices:
				return "dropped: a Local traffic policy (internal or external) and no endpoint on this node"
			}
		}
	}
	return ""
}

// pickWords says how a rule chose its endpoint, as a prefix.
func pickWords(ri RuleInfo) string {
	switch {
	case ri.Affinity:
		return "session affinity, the endpoint this client had: "
	case ri.Picks == 1:
		return "the only endpoint: "
	case ri.Picks > 1:
		return fmt.Sprintf("endpoint picked at random (1 of %d): ", ri.Picks)
	}
	return ""
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
	if i := slices.IndexFunc(j.Reply, func(h Hop) bool { return h.Component == CompDrop }); i >= 0 {
		// The answer was lost on its way back: the request got through,
		// so a drop told in it is of a later packet (a retransmission).
		last = &j.Reply[i]
	}
	if last == nil {
		return v, fmt.Sprintf("%s (%s); no hop was traced", v, p.Error)
	}
	where := last.Pod
	if where == "" {
		where = last.Node
	}
	where = cmp.Or(where, last.Namespace)
	if last.Component == CompRoute && v == Dropped && in.Routes[last.Namespace].Local {
		// Nothing dropped it that the kernel or a rule would say: it
		// arrived, and whatever received it kept silent.
		return v, fmt.Sprintf("no answer: the %s probe reached %s (%s) and no drop was reported, but nothing answered it"+
			" (a UDP server answers only what it understands: kinn's probe asks `hostname`, or a DNS question on port 53)",
			strings.ToUpper(p.Proto), where, endpoint(p.Dst, p.Proto))
	}
	s := fmt.Sprintf("%s (%s) in %s: %s", v, p.Error, where, strings.TrimPrefix(last.Action, v+": "))
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
