package lab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"kinn.dev/kinn/lab/kernel"
	"kinn.dev/kinn/lab/kernel/nft"
	"kinn.dev/kinn/lab/plan"
	"kinn.dev/kinn/lab/proxy"
	"kinn.dev/kinn/lab/service"
	"kinn.dev/kinn/lab/trace"
)

// runTrace marks, listens, sends and gathers: every kernel step of a
// trace. The trace tables go whatever happens, also when ctx is cancelled
// (Ctrl-C), since removing them does not depend on it.
func (s *State) runTrace(ctx context.Context, r TraceRequest, src string, dst traceDst, nss []string, ports []service.Port) (in trace.Input, err error) {
	in = trace.Input{DSCP: TraceDSCP, Rules: map[string]map[trace.RuleKey]trace.RuleInfo{}, Edited: map[string]bool{},
		Links: map[string]map[int]string{}, Routes: map[string]trace.Route{}}
	if r.lock != nil {
		// Listed before any is marked, for kinn up to clean after a kill.
		if err := r.lock.mayMark(nss); err != nil {
			return in, fmt.Errorf("trace lock: %w", err)
		}
	}
	m := &marks{table: nft.TracePrefix + randomID()}
	defer func() {
		var live []string
		if r.Live {
			live = []string{src} // its pick rule labels without tracing
		}
		err = errors.Join(err, m.finish(r.lock, live))
	}()
	install := func(ns string) error { return installTrace(ns, m.table, src, dst) }
	if m.listeners, m.marked, err = markAll(nss, install); err != nil {
		return in, err
	}
	if ctx.Err() != nil {
		return in, ctx.Err()
	}
	// Watch the kernel's own drops of the marked probe, after the
	// listeners (nothing of it can be sent before) and stopped on every
	// path out.
	watch, note := startDropWatch(ctx)
	if note != "" {
		in.Notes = append(in.Notes, note)
	}
	defer func() {
		if watch != nil {
			watch.Close()
		}
	}()
	in.Probe = sendProbe(ctx, r, src, dst)
	if ctx.Err() != nil {
		return in, ctx.Err()
	}
	evs, gaps, err := m.hear()
	if err != nil {
		return in, err
	}
	in.Events, in.Gaps = evs, append(in.Gaps, gaps...)
	if watch != nil {
		watch.Close()
		in.Drops = s.labDrops(watch, in.Links)
		if n := watch.Lost(); n > 0 {
			in.Gaps = append(in.Gaps, fmt.Sprintf("%d of the kernel's drop reports were lost (not read in time): a drop may be missing", n))
		}
		watch = nil
	}
	in.Src = src
	in.Hooks = trace.HooksOf(&proxy.Ruleset{}) // the trace tables' own, where no kinn table was met
	if err := s.traceRules(&in, ports); err != nil {
		return in, err
	}
	if err := s.traceOthers(&in); err != nil {
		return in, err
	}
	return in, s.traceKernelState(&in)
}

// traceRules maps kinn's rule handles to the rules kinn built, in the
// namespaces whose events name kinn's table (a node's ruleset is built and
// its table read only where the probe met it: 2 of 20 nodes, typically).
func (s *State) traceRules(in *trace.Input, ports []service.Port) error {
	if s.Topology.Networking.KubeProxyMode == "none" {
		return nil
	}
	met := kinnTableMet(in.Events)
	owners := trace.ChainOwners(ports)
	addrs, names := map[string]netip.Addr{}, []string{}
	for _, n := range s.Plan.Nodes {
		addrs[n.Name] = n.Underlay.Addr()
		names = append(names, n.Name)
		if !met[n.Netns] {
			continue
		}
		rs := proxy.Build(s.ProxyNode(n), ports)
		in.Hooks = trace.HooksOf(rs) // the same base chains in every node
		handles, edited, err := kinnTableAgainst(n.Netns, rs)
		if err != nil {
			return err
		}
		for _, c := range edited {
			// Not as kinn built it: its rules are told as the kernel
			// holds them (traceOthers), never by their place in the plan.
			delete(handles, c)
			in.Edited[n.Netns] = true
		}
		in.Rules[n.Netns] = trace.MapRules(rs, handles, owners, true)
	}
	// The switch's table: the load balancer the lab process keeps there.
	sw := s.Plan.Switch.Netns
	if !met[sw] {
		return nil
	}
	handles, err := nft.RuleHandles(sw, proxy.TableName)
	if err != nil {
		return err
	}
	in.Rules[sw] = trace.MapRules(proxy.BuildLoadBalancer(ports, names, addrs), handles, owners, false)
	return nil
}

// kinnTableAgainst reads the namespace's kinn table once: its rule handles
// per chain, and the chains that differ from the ruleset kinn builds for it
// (edited by hand, or not yet synced), compared rule by rule as netlink
// expressions, as drift repair does.
func kinnTableAgainst(netns string, want *proxy.Ruleset) (map[string][]uint64, []string, error) {
	t, err := nft.Open(netns)
	if err != nil {
		return nil, nil, err
	}
	defer t.Close()
	seen, d, err := t.Inspect(want)
	if err != nil {
		return nil, nil, fmt.Errorf("compare the kinn table of %s: %w", netns, err)
	}
	var edited []string
	for _, c := range d.Chains {
		edited = append(edited, c.Name)
	}
	return seen.Handles, edited, nil
}

// traceKernelState asks, for every namespace the request crossed, the FIB
// about it, and the nodes' conntrack about the probe's connection.
func (s *State) traceKernelState(in *trace.Input) error {
	in.Back = map[string]trace.Route{}
	seen := trace.PacketSeen(*in, true)
	for _, dir := range []struct {
		seen   map[string]trace.Seen
		routes map[string]trace.Route
	}{{seen, in.Routes}, {trace.PacketSeen(*in, false), in.Back}} {
		for key, sn := range dir.seen {
			rt, ok, err := routeOf(in, sn)
			if err != nil {
				return err
			}
			if ok {
				dir.routes[key] = rt
			}
		}
	}
	if _, ok := in.Routes[in.Src]; !ok {
		// Nothing left the source: its own FIB may be why.
		rt, err := kernel.RouteGet(in.Src, in.Probe.Dst.Addr(), netip.Addr{}, "", "")
		if err != nil {
			return err
		}
		in.Routes[in.Src] = rt
	}
	if err := traceLayer2(in); err != nil {
		return err
	}
	client := in.Probe.Src
	if sn, ok := seen[in.Src]; ok && !client.Addr().IsValid() {
		client = netip.AddrPortFrom(sn.Src, client.Port())
	}
	proto := map[string]uint8{"tcp": 6, "udp": 17, "icmp": 1}[in.Probe.Proto]
	for _, n := range s.Plan.Nodes {
		if _, crossed := seen[n.Netns]; !crossed {
			continue
		}
		flows, err := nft.ProbeFlows(n.Netns, proto, client)
		if err != nil {
			return err
		}
		in.Flows = append(in.Flows, flows...)
	}
	return nil
}

// routeOf asks the namespace's FIB about the packet as it was seen there.
func routeOf(in *trace.Input, sn trace.Seen) (trace.Route, bool, error) {
	ns := sn.Netns
	if !sn.Dst.IsValid() {
		return trace.Route{}, false, nil
	}
	iif := ""
	if sn.IIF != 0 {
		if in.Links[ns] == nil {
			names, err := kernel.LinkNames(ns)
			if err != nil {
				return trace.Route{}, false, err
			}
			in.Links[ns] = names
		}
		iif = in.Links[ns][int(sn.IIF)]
	}
	if iif == "lo" {
		// Sent by the namespace to itself (a node's own rule answering
		// its own probe): loopback delivers it, no route is asked (the
		// kernel refuses the question with iif lo).
		return trace.Route{Netns: ns, Dst: sn.Dst, Src: sn.Src, IIF: iif, Dev: iif, Local: true}, true, nil
	}
	rt, err := kernel.RouteGet(ns, sn.Dst, sn.Src, iif, sn.DstMAC)
	return rt, err == nil, err
}

func randomID() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// removeStaleTraces removes the trace tables a killed `kinn trace` left in
// the lab's namespaces (a SIGKILL runs no cleanup), and says what it
// removed. A trace running meanwhile holds the trace lock: its tables are
// its own, not stale, and stay.
func removeStaleTraces(o Options, p *plan.Lab) []string {
	lk, ok, err := tryLockTrace(o, p.Name)
	if err != nil {
		return []string{"warning: stale trace tables not looked for: " + err.Error()}
	}
	if !ok {
		return nil // a trace is running: its tables go when it ends
	}
	defer lk.unlock()
	nss := []string{p.Switch.Netns}
	for _, n := range p.Nodes {
		nss = append(nss, n.Netns)
	}
	for _, pod := range p.Pods {
		nss = append(nss, pod.Netns)
	}
	var out []string
	clean := true // the list is emptied only when all of it went well
	for _, ns := range nss {
		gone, err := nft.RemoveTraces(ns, "")
		if err != nil {
			clean = false
			out = append(out, fmt.Sprintf("warning: stale trace tables in %s: %v", ns, err))
		}
		for _, t := range gone {
			out = append(out, fmt.Sprintf("removed %s, left in %s by a killed kinn trace", t, ns))
		}
	}
	// Then the conntrack labels of a trace killed before it cleared them
	// (its tables gone, no label is set again): the namespaces it listed,
	// this lab's only.
	for _, ns := range lk.leftMarked() {
		if !slices.Contains(nss, ns) || !kernel.NetnsExists(ns) {
			continue
		}
		if n, err := nft.ClearTraceLabels(ns); err != nil {
			clean = false // listed still, for the next up
			out = append(out, fmt.Sprintf("warning: trace labels in %s: %v", ns, err))
		} else if n > 0 {
			out = append(out, fmt.Sprintf("cleared the trace label of %d connections in %s, left by a killed kinn trace", n, ns))
		}
	}
	if clean {
		if err := lk.clean(); err != nil {
			out = append(out, "warning: trace lock: "+err.Error())
		}
	}
	return out
}
