package tui

import (
	"context"
	"fmt"
	"slices"
	"strings"

	tea "charm.land/bubbletea/v2"

	"kinn.dev/kinn/lab"
)

// The Cluster screen's drill-down views: enter on a Service shows its
// frontends and endpoints with this node's counters and its recent flows;
// enter on a pod shows its describe text. Both refresh with the data and
// scroll with a pager; esc goes back to the list.

// serviceView is one Service: its addresses, its frontends and endpoints
// as one node's rules have them (n/p: another node), and its flows.
type serviceView struct {
	pager
	ns, name string
	nodeIdx  int
	rules    *lab.RulesView // of node(), the last good one
}

// maxServiceFlows is how many of a Service's flows the view lists.
const maxServiceFlows = 10

func (v *serviceView) node(snap *Snapshot) string {
	if snap == nil || len(snap.Nodes) == 0 {
		return ""
	}
	return snap.Nodes[min(v.nodeIdx, len(snap.Nodes)-1)].Name
}

func (v *serviceView) info(snap *Snapshot) *ServiceInfo {
	if snap == nil {
		return nil
	}
	for i := range snap.Services {
		if s := &snap.Services[i]; s.Namespace == v.ns && s.Name == v.name {
			return s
		}
	}
	return nil
}

// cycle moves to the next (+1) or previous (-1) node.
func (v *serviceView) cycle(snap *Snapshot, d int) {
	if snap == nil || len(snap.Nodes) == 0 {
		return
	}
	n := len(snap.Nodes)
	v.nodeIdx = (min(v.nodeIdx, n-1) + d + n) % n
	v.rules = nil
}

func (v *serviceView) lines(sh *shared, w int) []string {
	st := sh.st
	node := v.node(sh.snap)
	title := fmt.Sprintf("SERVICE %s/%s   esc: back  n/p: another node's counters", v.ns, v.name)
	out := []string{st.Section.Render(clip("  "+title, w))}
	s := v.info(sh.snap)
	if s == nil {
		return append(out, st.Bad.Render("  not in the lab any more"))
	}
	head := fmt.Sprintf("    type %s  cluster IP %s  ports %s  endpoints %d/%d ready",
		s.Type, s.ClusterIP, strings.Join(s.Ports, ","), s.ReadyEndpoints, s.TotalEndpoints)
	if len(s.ExternalIPs) > 0 {
		head += "  external " + strings.Join(s.ExternalIPs, ",")
	}
	out = append(out, clip(head, w), "")
	out = append(out, v.ruleLines(st, node, w)...)
	return append(out, v.flowLines(sh, w)...)
}

// ruleLines are the frontends, then the endpoints once per Service port
// (the frontends of one port share the endpoints' chains and counters).
func (v *serviceView) ruleLines(st Styles, node string, w int) []string {
	if v.rules == nil {
		return []string{st.Dim.Render("  waiting for " + node + "'s rules…"), ""}
	}
	svc := v.ns + "/" + v.name
	var fronts []*lab.FrontendView
	for i := range v.rules.Services {
		if f := &v.rules.Services[i]; f.Service == svc {
			fronts = append(fronts, f)
		}
	}
	out := []string{st.Header.Render(clip(fmt.Sprintf("  FRONTENDS ON %s (%d): packets its rules counted", node, len(fronts)), w))}
	fc := newColumns("FRONTEND", "KIND", "CHAIN", "PKTS", "BYTES", "NOTE").alignRight(3, 4).capAt(2, 32)
	shared := sharedChains(v.rules)
	fcells := make([][]string, len(fronts))
	for i, f := range fronts {
		fcells[i] = []string{f.Frontend, withDrift(f.Kind, f.Drift), f.Chain, humanCount(float64(f.Packets)),
			humanBytes(float64(f.Bytes)), f.Note}
		fc.measure(fcells[i])
	}
	fc.fitTo(w - 4)
	out = append(out, st.Dim.Render("    "+fc.header()))
	for _, c := range fcells {
		out = append(out, clip("    "+fc.row(c), w))
	}
	for _, f := range fronts {
		if sh := shared[frontKey(f)]; sh != "" {
			out = append(out, st.Dim.Render(clip("    # "+f.Kind+": "+sh, w)))
		}
	}
	out = append(out, "", st.Header.Render("  ENDPOINTS  => used by this node's rules"))
	ec := newColumns(" ", "POD", "ADDR", "NODE", "STATE", "CHAIN", "PKTS", "BYTES").alignRight(6, 7).capAt(1, 40).dropFirst(5)
	var ecells [][]string
	seen := map[string]bool{}
	for _, f := range fronts {
		for _, e := range f.Endpoints {
			if seen[e.Chain] {
				continue
			}
			seen[e.Chain] = true
			use := "  "
			if e.Used {
				use = "=>"
			}
			ecells = append(ecells, []string{use, strings.TrimPrefix(e.Pod, v.ns+"/"), e.Addr, e.Node,
				withDrift(e.State, e.Drift), e.Chain, humanCount(float64(e.Packets)), humanBytes(float64(e.Bytes))})
			ec.measure(ecells[len(ecells)-1])
		}
	}
	ec.fitTo(w - 4)
	out = append(out, st.Dim.Render("    "+ec.header()))
	for _, c := range ecells {
		out = append(out, clip("    "+ec.row(c), w))
	}
	if len(ecells) == 0 {
		out = append(out, st.Bad.Render("    none: its frontends reject"))
	}
	return append(out, "")
}

// flows are the tracked flows addressed to the Service (its ClusterIP,
// external addresses or NodePort), newest first. Not those to its pods:
// another Service may select the same pods.
func (v *serviceView) flows(sh *shared) []*Flow {
	nm := sh.names()
	svc := shortName(v.ns, v.name)
	var flows []*Flow
	for i := range sh.flows {
		f := &sh.flows[i]
		_, dst, _ := nm.lookup(f.Service)
		if f.SvcName == v.ns+"/"+v.name || (dst.kind == 's' && dst.name == svc) || strings.HasPrefix(nm.service(f), svc+" via ") {
			flows = append(flows, f)
		}
	}
	slices.SortStableFunc(flows, func(a, b *Flow) int { return b.Started.Compare(a.Started) })
	return flows
}

// flowLines are the newest flows to the Service or its endpoints.
func (v *serviceView) flowLines(sh *shared, w int) []string {
	st := sh.st
	nm := sh.names()
	flows := v.flows(sh)
	out := []string{st.Header.Render(fmt.Sprintf("  RECENT FLOWS (%d, newest first; all on screen 3)", len(flows)))}
	now := sh.now()
	c := newColumns("CLIENT", "SERVICE", "ENDPOINT", "STATE", "AGE", "NODE").alignRight(4).dropFirst(5, 3)
	cells := make([][]string, 0, maxServiceFlows)
	for _, f := range flows[:min(len(flows), maxServiceFlows)] {
		ep := "=> " + nm.of(f.Endpoint)
		if f.Endpoint == "" {
			ep = "(not NATed)"
		}
		cells = append(cells, []string{nm.client(f), "-> " + nm.service(f), ep, f.State, age(now.Sub(f.Started)), f.Node})
		c.measure(cells[len(cells)-1])
	}
	c.fitTo(w - 4)
	if len(cells) == 0 {
		return append(out, st.Dim.Render("    none tracked right now: s on a pod sends requests"))
	}
	out = append(out, st.Dim.Render("    "+c.header()))
	for _, cl := range cells {
		out = append(out, clip("    "+c.row(cl), w))
	}
	return out
}

// sharedChains says, for each frontend whose endpoints' chains another
// frontend of the same Service port already jumps to, which one: the
// endpoints' counters then count the packets of both, and this frontend's
// own counter is only in its own chain.
func sharedChains(v *lab.RulesView) map[string]string {
	out := map[string]string{}
	first := map[string]*lab.FrontendView{} // endpoint chain -> first frontend using it
	for i := range v.Services {
		f := &v.Services[i]
		for _, e := range f.Endpoints {
			if o, ok := first[e.Chain]; ok && o != f {
				out[frontKey(f)] = "endpoint counters are shared with " + o.Kind + " " + o.Frontend
				break
			}
			first[e.Chain] = f
		}
	}
	return out
}

// describeMsg carries a pod's describe text.
type describeMsg struct {
	ns, name, text string
	err            error
}

// podView is a pod's describe text (kubectl describe's layout), asked of
// the Source again at each snapshot while it is open.
type podView struct {
	pager
	ns, name string
	text     string
	err      error
}

func (p *podView) lines(st Styles, w int) []string {
	out := []string{st.Section.Render(clip("  POD "+p.ns+"/"+p.name+"   esc: back", w))}
	switch {
	case p.err != nil:
		return append(out, st.Bad.Render(clip("  "+p.err.Error(), w)))
	case p.text == "":
		return append(out, st.Dim.Render("  describing…"))
	}
	for _, l := range strings.Split(strings.TrimRight(p.text, "\n"), "\n") {
		for _, part := range wrap(strings.ReplaceAll(l, "\t", "    "), w-2) {
			out = append(out, "  "+part)
		}
	}
	return out
}

// describe asks the Source for the pod's describe text.
func (p *podView) describe(f *fetcher) tea.Cmd {
	ns, name := p.ns, p.name
	return func() tea.Msg {
		text, err := call(f.ctx, f.timeout, func(ctx context.Context) (string, error) { return f.src.Describe(ctx, ns, name) })
		return describeMsg{ns: ns, name: name, text: text, err: err}
	}
}
