package tui

import (
	"cmp"
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

var clusterKeys = struct {
	Ready, Delete, ScaleUp, ScaleDown, Send, Trace key.Binding
}{
	Ready:     key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "ready on/off")),
	Delete:    key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "delete pod")),
	ScaleUp:   key.NewBinding(key.WithKeys("+", "="), key.WithHelp("+", "scale up")),
	ScaleDown: key.NewBinding(key.WithKeys("-"), key.WithHelp("-", "scale down")),
	Send:      key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "send requests")),
	Trace:     key.NewBinding(key.WithKeys("t"), key.WithHelp("t", "trace from it")),
}

const actionTimeout = 30 * time.Second

// clusterScreen lists nodes, pods and services; enter on a node shows only
// its pods, esc comes back.
type clusterScreen struct {
	base
	node   string // drilled into; "" for the whole cluster
	prompt *sendPrompt
	built  *Snapshot    // the snapshot the rows are of
	svc    *serviceView // a Service drilled into
	pod    *podView     // a pod's describe view
}

func newClusterScreen(sh *shared) *clusterScreen {
	c := &clusterScreen{base: base{sh: sh}}
	c.layout = c.rebuild
	c.rebuild()
	return c
}

func (c *clusterScreen) Title() string { return "Cluster" }

func (c *clusterScreen) Keys() []key.Binding {
	switch {
	case c.svc != nil:
		return []key.Binding{keys.Back, rulesKeys.NextNode, rulesKeys.PrevNode}
	case c.pod != nil:
		return []key.Binding{keys.Back}
	}
	k := clusterKeys
	return []key.Binding{k.Ready, k.Delete, k.ScaleUp, k.ScaleDown, k.Send, k.Trace}
}

func (c *clusterScreen) Modal() bool { return c.prompt != nil }

func (c *clusterScreen) Back() bool {
	if c.svc != nil || c.pod != nil {
		c.svc, c.pod = nil, nil
		return true
	}
	if c.node == "" {
		return false
	}
	node := c.node
	c.node = ""
	c.rebuild()
	c.l.apply("node/" + node)
	return true
}

func (c *clusterScreen) Update(msg tea.Msg) tea.Cmd {
	if c.prompt != nil {
		return c.promptUpdate(msg)
	}
	if d, ok := msg.(dataMsg); ok {
		if d.kind == kindSnapshot && d.err == nil && c.sh.snap != c.built {
			c.changed() // an unchanged lab comes back as the same snapshot
		}
		return c.drillData(d)
	}
	if d, ok := msg.(describeMsg); ok {
		if c.pod != nil && c.pod.ns == d.ns && c.pod.name == d.name {
			c.pod.text, c.pod.err = d.text, d.err
		}
		return nil
	}
	if c.svc != nil || c.pod != nil {
		return c.drillKey(msg)
	}
	if c.nav(msg) {
		return nil
	}
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil
	}
	if key.Matches(k, keys.Enter) {
		return c.enter()
	}
	if key.Matches(k, clusterKeys.Trace) {
		return c.traceFrom()
	}
	for _, b := range []key.Binding{clusterKeys.Ready, clusterKeys.Delete, clusterKeys.ScaleUp, clusterKeys.ScaleDown, clusterKeys.Send} {
		if key.Matches(k, b) {
			return c.action(b)
		}
	}
	return nil
}

// action starts the action bound to b on the selected pod.
func (c *clusterScreen) action(b key.Binding) tea.Cmd {
	p := c.selectedPod()
	if p == nil {
		return report("select a pod first")
	}
	f := c.sh.f
	ns, name := p.Namespace, p.Name
	switch b.Keys()[0] {
	case "r":
		ready := !p.Ready
		return f.action(actionTimeout, func(ctx context.Context) (string, error) {
			if err := f.src.SetReady(ctx, ns, name, ready); err != nil {
				return "", fmt.Errorf("set %s/%s ready=%t: %w", ns, name, ready, err)
			}
			return fmt.Sprintf("%s/%s ready=%t", ns, name, ready), nil
		})
	case "d":
		return f.action(actionTimeout, func(ctx context.Context) (string, error) {
			if err := f.src.DeletePod(ctx, ns, name); err != nil {
				return "", fmt.Errorf("delete %s/%s: %w", ns, name, err)
			}
			return fmt.Sprintf("deleted %s/%s", ns, name), nil
		})
	case "+", "-":
		deploy, ok := deploymentOf(name)
		if !ok {
			return report(fmt.Sprintf("%s/%s is not a Deployment's pod", ns, name))
		}
		n := c.replicas(ns, deploy)
		if b.Keys()[0] == "+" {
			n++
		} else {
			n = max(n-1, 0)
		}
		return f.action(actionTimeout, func(ctx context.Context) (string, error) {
			if err := f.src.Scale(ctx, ns, deploy, n); err != nil {
				return "", fmt.Errorf("scale %s/%s to %d: %w", ns, deploy, n, err)
			}
			return fmt.Sprintf("scaled %s/%s to %d", ns, deploy, n), nil
		})
	case "s":
		if c.sh.snap == nil || len(c.sh.snap.Services) == 0 {
			return report("no services to send to")
		}
		c.prompt = &sendPrompt{from: ns + "/" + name, n: "20", services: c.sh.snap.Services}
	}
	return nil
}

// traceFrom opens the Trace screen with the selected pod or node as the
// source: the rows' keys are the pickers' ("pod/NS/NAME", "node/NAME").
func (c *clusterScreen) traceFrom() tea.Cmd {
	r := c.l.selected()
	if r == nil {
		return report("select a pod or a node to trace from")
	}
	switch r.data.(type) {
	case *PodInfo, *NodeInfo:
		return func() tea.Msg { return traceFromMsg{key: r.key} }
	}
	return report("select a pod or a node to trace from")
}

func report(text string) tea.Cmd {
	return func() tea.Msg { return actionMsg{err: fmt.Errorf("%s", text)} }
}

func (c *clusterScreen) selectedPod() *PodInfo {
	if r := c.l.selected(); r != nil {
		if p, ok := r.data.(*PodInfo); ok {
			return p
		}
	}
	return nil
}

// A Deployment's pod is <deployment>-<pod-template-hash>-<suffix>.
var deployPod = regexp.MustCompile(`^([a-z0-9]([-a-z0-9]*[a-z0-9])?)-([a-z0-9]{5,10})-([a-z0-9]{5})$`)

func deploymentOf(pod string) (string, bool) {
	m := deployPod.FindStringSubmatch(pod)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// replicas counts the Deployment's pods that are not on their way out: the
// Snapshot has no Deployments, and this is what the user sees anyway.
func (c *clusterScreen) replicas(ns, deploy string) int {
	n := 0
	for _, p := range c.sh.snap.Pods {
		if d, ok := deploymentOf(p.Name); ok && d == deploy && p.Namespace == ns && !p.Terminating {
			n++
		}
	}
	return n
}

func (c *clusterScreen) rebuild() {
	snap := c.sh.snap
	c.built = snap
	if snap == nil {
		c.l.setRows(c.message("waiting for the lab…"))
		return
	}
	var rows []row
	st := c.sh.st
	if c.node == "" {
		nc := newColumns("NAME", "ROLE", "IP", "POD-CIDR", "VTEP-MAC", "READY", "REASON").dropFirst(1).keepWhole(2, 3, 4)
		nc.hidden[6] = !slices.ContainsFunc(snap.Nodes, func(n NodeInfo) bool { return n.Reason != "" })
		cells := make([][]string, len(snap.Nodes))
		for i, n := range snap.Nodes {
			cells[i] = []string{n.Name, n.Role, n.IP, n.PodCIDR, n.VTEPMAC, yesNo(n.Ready), n.Reason}
			nc.measure(cells[i])
		}
		nc.fitTo(c.width())
		rows = c.section(rows, fmt.Sprintf("NODES (%d)", len(snap.Nodes)), nc)
		for i := range snap.Nodes {
			n := &snap.Nodes[i]
			r := row{text: nc.row(cells[i]), selectable: true, key: "node/" + n.Name, data: n}
			if !n.Ready {
				r.style = st.Bad
			}
			rows = append(rows, r)
		}
	}
	pods := make([]*PodInfo, 0, len(snap.Pods))
	for i := range snap.Pods {
		if c.node == "" || snap.Pods[i].Node == c.node {
			pods = append(pods, &snap.Pods[i])
		}
	}
	slices.SortStableFunc(pods, byNamespaceName)
	// By importance: NAME, READY and NODE always stay (the questions are
	// "is it ready, and where"), then IP; NETWORKS and PORTS go first
	// when the window is narrow, then NAME and NAMESPACE are narrowed.
	pc := newColumns("NAMESPACE", "NAME", "NODE", "IP", "READY", "PORTS", "REASON", "NETWORKS").
		capAt(1, 48).dropFirst(7, 5).keepWhole(3, 4)
	if c.node != "" {
		pc.hidden[2] = true // it is in the title
	}
	pc.hidden[7] = !slices.ContainsFunc(pods, func(p *PodInfo) bool { return p.Networks != "" })
	cells := make([][]string, len(pods))
	for i, p := range pods {
		state := podState(p)
		if snap.Unknown && !p.Terminating && p.IP != "" {
			state = "?" // running, readiness unknown: no lab process answers
		}
		cells[i] = []string{p.Namespace, p.Name, p.Node, p.IP, state, strings.Join(p.Ports, ","), p.Reason, p.Networks}
		pc.measure(cells[i])
	}
	pc.fitTo(c.width())
	title := fmt.Sprintf("PODS (%d)", len(pods))
	if c.node != "" {
		title = fmt.Sprintf("PODS ON %s (%d)   esc: back", c.node, len(pods))
	}
	if snap.Unknown {
		title += "   readiness unknown: no lab process answers (kinn up starts it)"
	}
	rows = c.section(rows, title, pc)
	for i, p := range pods {
		r := row{text: pc.row(cells[i]), selectable: true, key: "pod/" + p.Namespace + "/" + p.Name, data: p}
		if (!p.Ready || p.Terminating) && !snap.Unknown {
			r.style = st.Bad
		}
		rows = append(rows, r)
	}
	if c.node == "" {
		sc := newColumns("NAMESPACE", "NAME", "TYPE", "CLUSTER-IP", "PORTS", "ENDPOINTS")
		cells := make([][]string, len(snap.Services))
		for i, s := range snap.Services {
			ready := fmt.Sprint(s.ReadyEndpoints)
			if snap.Unknown {
				ready = "?"
			}
			cells[i] = []string{s.Namespace, s.Name, s.Type, s.ClusterIP, strings.Join(s.Ports, ","),
				fmt.Sprintf("%s/%d", ready, s.TotalEndpoints)}
			sc.measure(cells[i])
		}
		sc.fitTo(c.width())
		rows = c.section(rows, fmt.Sprintf("SERVICES (%d)", len(snap.Services)), sc)
		for i := range snap.Services {
			s := &snap.Services[i]
			r := row{text: sc.row(cells[i]), selectable: true, key: "svc/" + s.Namespace + "/" + s.Name, data: s}
			if s.ReadyEndpoints == 0 && !snap.Unknown {
				r.style = st.Bad
			}
			rows = append(rows, r)
		}
	}
	c.l.setRows(rows)
}

// byNamespaceName orders pods as kubectl lists them.
func byNamespaceName(a, b *PodInfo) int {
	return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func podState(p *PodInfo) string {
	switch {
	case p.Terminating:
		return "terminating"
	case !p.Ready:
		return "no"
	}
	return "yes"
}

func (c *clusterScreen) View() string {
	switch {
	case c.prompt != nil:
		return c.prompt.view(c.sh.st, c.w, c.h)
	case c.svc != nil:
		return c.svc.view(c.svc.lines(c.sh, c.w), c.h)
	case c.pod != nil:
		return c.pod.view(c.pod.lines(c.sh.st, c.w), c.h)
	}
	return c.base.View()
}

// enter opens what the cursor is on: a node's pods, a Service, a pod.
func (c *clusterScreen) enter() tea.Cmd {
	r := c.l.selected()
	if r == nil {
		return nil
	}
	switch d := r.data.(type) {
	case *NodeInfo:
		c.node = d.Name
		c.rebuild()
		c.l.home()
	case *ServiceInfo:
		c.svc = &serviceView{ns: d.Namespace, name: d.Name}
		c.svc.nodeIdx = c.busiestNode(c.svc)
		return c.fetchDrill()
	case *PodInfo:
		c.pod = &podView{ns: d.Namespace, name: d.Name}
		return c.pod.describe(c.sh.f)
	}
	return nil
}

// busiestNode is where the Service view starts: the node with the most of
// the Service's tracked flows (the clients' nodes, where the rules that
// count them run), else the first.
func (c *clusterScreen) busiestNode(v *serviceView) int {
	snap := c.sh.snap
	if snap == nil {
		return 0
	}
	count := map[string]int{}
	for _, f := range v.flows(c.sh) {
		count[f.Node]++
	}
	best := 0
	for i, n := range snap.Nodes {
		if count[n.Name] > count[snap.Nodes[best].Name] {
			best = i
		}
	}
	return best
}

// fetchDrill fetches what the Service view shows now, rather than at the
// next tick.
func (c *clusterScreen) fetchDrill() tea.Cmd {
	return tea.Batch(c.sh.f.fetch(kindRules, c.rulesNode(), false), c.sh.f.fetch(kindFlows, "", false))
}

// drillData keeps the Service view's rules and refreshes the pod view.
func (c *clusterScreen) drillData(d dataMsg) tea.Cmd {
	switch {
	case c.svc != nil && d.kind == kindRules && d.err == nil && d.rules != nil && d.node == c.rulesNode():
		c.svc.rules = d.rules
	case c.pod != nil && d.kind == kindSnapshot && d.rearm:
		return c.pod.describe(c.sh.f)
	}
	return nil
}

// drillKey scrolls a drill-down view; n/p show another node's counters.
func (c *clusterScreen) drillKey(msg tea.Msg) tea.Cmd {
	if c.pod != nil {
		c.pod.update(msg, c.h)
		return nil
	}
	if c.svc.update(msg, c.h) {
		return nil
	}
	if k, ok := msg.(tea.KeyPressMsg); ok {
		switch {
		case key.Matches(k, rulesKeys.NextNode):
			c.svc.cycle(c.sh.snap, 1)
			return c.fetchDrill()
		case key.Matches(k, rulesKeys.PrevNode):
			c.svc.cycle(c.sh.snap, -1)
			return c.fetchDrill()
		}
	}
	return nil
}

// rulesNode is the node whose rules the Service view shows, "" when it is
// closed: the root fetches that node's rules while the view is open.
func (c *clusterScreen) rulesNode() string {
	if c.svc == nil {
		return ""
	}
	return c.svc.node(c.sh.snap)
}

// alsoShows says the Service view shows rules and flows too, so the root
// keeps fetching them while the Cluster screen is shown.
func (c *clusterScreen) alsoShows(k kind) bool {
	return c.svc != nil && (k == kindRules || k == kindFlows)
}

// sendPrompt asks how many requests to send and to which service.
type sendPrompt struct {
	from     string
	n        string
	services []ServiceInfo
	cursor   int
}

func (c *clusterScreen) promptUpdate(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil
	}
	p := c.prompt
	switch s := k.String(); {
	case s == "esc":
		c.prompt = nil
	case key.Matches(k, keys.Up):
		p.cursor = max(p.cursor-1, 0)
	case key.Matches(k, keys.Down):
		p.cursor = min(p.cursor+1, len(p.services)-1)
	case s == "backspace":
		if len(p.n) > 0 {
			p.n = p.n[:len(p.n)-1]
		}
	case len(s) == 1 && s[0] >= '0' && s[0] <= '9' && len(p.n) < 6:
		p.n += s
	case s == "enter":
		n, err := strconv.Atoi(p.n)
		if err != nil || n <= 0 {
			return report("send: the number of requests must be a positive number")
		}
		c.prompt = nil
		svc := p.services[p.cursor].Namespace + "/" + p.services[p.cursor].Name
		f, from := c.sh.f, p.from
		return f.action(actionTimeout, func(ctx context.Context) (string, error) {
			got, err := f.src.SendRequests(ctx, from, svc, n)
			if err != nil {
				return "", fmt.Errorf("send %d from %s to %s: %w", n, from, svc, err)
			}
			return fmt.Sprintf("%s -> %s: %s", from, svc, backendCounts(got, n)), nil
		})
	}
	return nil
}

// backendCounts is "web-1 12, web-2 8" (most first), and how many failed.
func backendCounts(got map[string]int, n int) string {
	names := make([]string, 0, len(got))
	total := 0
	for k, v := range got {
		names = append(names, k)
		total += v
	}
	slices.SortFunc(names, func(a, b string) int { return cmp.Or(cmp.Compare(got[b], got[a]), cmp.Compare(a, b)) })
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = fmt.Sprintf("%s %d", k, got[k])
	}
	s := strings.Join(parts, ", ")
	if total < n {
		s += fmt.Sprintf(" (%d failed)", n-total)
	}
	if s == "" {
		s = "no answers"
	}
	return s
}

func (p *sendPrompt) view(st Styles, w, h int) string {
	lines := []string{
		st.Section.Render("SEND REQUESTS from " + p.from),
		"",
		"  requests: " + st.Prompt.Render(p.n+"▏") + st.Dim.Render("  (type digits)"),
		"  to service:",
	}
	// Keep the chosen service in view on a short window.
	room := max(h-len(lines)-2, 1)
	first := max(p.cursor-room+1, 0)
	for i := first; i < len(p.services) && i < first+room; i++ {
		s := p.services[i]
		text := fmt.Sprintf("%s/%s  %s  %s", s.Namespace, s.Name, s.ClusterIP, strings.Join(s.Ports, ","))
		if i == p.cursor {
			lines = append(lines, st.Cursor.Render(fit("  > "+text, w)))
		} else {
			lines = append(lines, "    "+text)
		}
	}
	lines = append(lines, "", st.Dim.Render("  ↑/↓ choose · enter send · esc cancel"))
	for i := range lines {
		lines[i] = clip(lines[i], w)
	}
	for len(lines) < h {
		lines = append(lines, "")
	}
	return strings.Join(lines[:h], "\n")
}
