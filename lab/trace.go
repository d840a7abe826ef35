package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"kinn.dev/kinn/lab/plan"
	"kinn.dev/kinn/lab/service"
	"kinn.dev/kinn/lab/trace"
	"kinn.dev/kinn/lab/workload"
)

// TraceDSCP marks the probe of kinn trace: a DSCP value nothing in a lab
// sets (it is none of the standard per-hop behaviours), so only the probe
// and its connection are traced.
const TraceDSCP = 0x2d

// TraceRequest is what `kinn trace` was asked.
type TraceRequest struct {
	Src       Target
	Dst       string // pod, [pod/]NS/NAME, svc/NAME, svc/NS/NAME or an IP
	Namespace string // of names given without one
	Port      uint16 // 0: the Service's first port, the pod's first
	Proto     string // tcp, udp, icmp
	Timeout   time.Duration
	DNS       bool       // also trace the DNS query of a name given as Dst
	Live      bool       // trace the next real connection instead of a probe
	Progress  io.Writer  // where a live trace says it waits; nil for nowhere
	Record    io.Writer  // if set, what the kernel told is written there (trace.Recording)
	lock      *traceLock // held while it runs (Trace takes it)
}

// BadInput marks an error in what the user asked (exit status 2).
type BadInput struct{ Err error }

func (e *BadInput) Error() string { return e.Err.Error() }
func (e *BadInput) Unwrap() error { return e.Err }

func bad(format string, a ...any) error { return &BadInput{fmt.Errorf(format, a...)} }

// traceDst is the resolved destination.
type traceDst struct {
	addr    netip.AddrPort
	what    string
	service *trace.Owner
	netns   []string // pod namespaces the probe may end in
	lookup  *nameLookup
	live    *liveWatch
	send    func(context.Context) trace.ProbeResult // instead of the probe
}

// resolveDst turns DST into an address and port, and the pods that may
// receive it.
func (s *State) resolveDst(ctx context.Context, r TraceRequest, ports []service.Port) (traceDst, error) {
	var d traceDst
	if name, ok := strings.CutPrefix(r.Dst, "dns/"); ok {
		return s.resolveName(ctx, r, name, ports, false)
	}
	if rest, ok := strings.CutPrefix(r.Dst, "svc/"); ok {
		return s.resolveService(r, rest, ports)
	}
	if rest, ok := strings.CutPrefix(r.Dst, "node/"); ok {
		return s.resolveNodePort(r, rest, ports)
	}
	if a, err := netip.ParseAddr(r.Dst); err == nil {
		if !a.Is4() {
			return d, bad("destination %s: only IPv4 is traced", a)
		}
		if d, ok := s.resolveServiceAddr(r, a, ports); ok {
			return d, nil
		}
		if n := nodeByAddr(s.Plan, a); n != "" && r.Port != 0 {
			return s.resolveNodePort(r, n, ports)
		}
		if r.Port == 0 && r.Proto != "icmp" {
			return d, bad("destination %s: give the port with --port", a)
		}
		d.addr, d.what = netip.AddrPortFrom(a, r.Port), a.String()
		for _, p := range s.Plan.Pods {
			if p.IP.Addr() == a {
				d.netns = append(d.netns, p.Netns)
			}
		}
		return d, nil
	}
	ns, name := r.Namespace, strings.TrimPrefix(r.Dst, "pod/")
	if n, p, ok := strings.Cut(name, "/"); ok {
		ns, name = n, p
	}
	pp, ok := s.planPod(ns + "/" + name)
	if !ok && !strings.Contains(r.Dst, "/") {
		return s.resolveName(ctx, r, r.Dst, ports, true) // pods first, then names
	}
	if !ok {
		return d, bad("destination: pod %q not found in namespace %q of lab %s", name, ns, s.Plan.Name)
	}
	if !pp.IP.IsValid() {
		return d, bad("destination: pod %s/%s has no address yet", ns, name)
	}
	port := r.Port
	if port == 0 && r.Proto != "icmp" {
		port = s.podPort(ns, name, r.Proto)
		if port == 0 {
			return d, bad("destination: pod %s/%s declares no %s port: give one with --port", ns, name, strings.ToUpper(r.Proto))
		}
	}
	d.addr = netip.AddrPortFrom(pp.IP.Addr(), port)
	d.what, d.netns = "pod "+ns+"/"+name+" "+pp.IP.Addr().String(), []string{pp.Netns}
	return d, nil
}

func (s *State) resolveService(r TraceRequest, rest string, ports []service.Port) (traceDst, error) {
	var d traceDst
	ns, name := r.Namespace, rest
	if n, p, ok := strings.Cut(rest, "/"); ok {
		ns, name = n, p
	}
	var match []service.Port
	for _, p := range ports {
		if p.Namespace == ns && p.Service == name {
			match = append(match, p)
		}
	}
	if len(match) == 0 {
		return d, bad("destination: %s", s.unproxied(ns, name))
	}
	i := slices.IndexFunc(match, func(p service.Port) bool { return r.portMatches(p) })
	if i < 0 {
		return d, bad("destination: Service %s/%s has no %s port %d", ns, name, strings.ToUpper(r.Proto), r.Port)
	}
	return s.serviceDst(match[i], match[i].ClusterIP), nil
}

// unproxied says why a Service has no port the proxies serve.
func (s *State) unproxied(ns, name string) string {
	for _, svc := range s.Services {
		if svc.Namespace != ns || svc.Name != name {
			continue
		}
		switch {
		case svc.Spec.ClusterIP == "None":
			return fmt.Sprintf("Service %s/%s is headless (clusterIP: None): no proxy rule serves it; trace one of its pods", ns, name)
		case svc.Labels[service.LabelServiceProxyName] != "":
			return fmt.Sprintf("Service %s/%s is left to another proxy (%s: %s): kube-proxy, and so kinn, serves nothing for it",
				ns, name, service.LabelServiceProxyName, svc.Labels[service.LabelServiceProxyName])
		}
		return fmt.Sprintf("Service %s/%s has no port the proxies serve (type %s)", ns, name, svc.Spec.Type)
	}
	return fmt.Sprintf("Service %s/%s not found in lab %s", ns, name, s.Plan.Name)
}

// portMatches: the Service port the request names (any port of the
// protocol when none is given; any port for ICMP).
func (r TraceRequest) portMatches(p service.Port) bool {
	return (r.Port == 0 || p.Port == r.Port) && (r.Proto == "icmp" || strings.EqualFold(string(p.Protocol), r.Proto))
}

// serviceDst is a Service port reached at one of its addresses.
func (s *State) serviceDst(p service.Port, addr netip.Addr) traceDst {
	var d traceDst
	d.addr = netip.AddrPortFrom(addr, p.Port)
	d.what = fmt.Sprintf("Service %s/%s %s/%s", p.Namespace, p.Service, d.addr, p.Protocol)
	d.service = &trace.Owner{Kind: "Service", Namespace: p.Namespace, Name: p.Service}
	for _, ep := range p.Endpoints {
		if pp, ok := s.planPod(ep.Namespace + "/" + ep.Pod); ok {
			d.netns = append(d.netns, pp.Netns)
		}
	}
	return d
}

// resolveServiceAddr: an address given as DST that is a Service's own (its
// ClusterIP, an external IP, a load balancer's) is traced as that Service,
// as if named, so its rules have their owner and its endpoints are watched.
func (s *State) resolveServiceAddr(r TraceRequest, a netip.Addr, ports []service.Port) (traceDst, bool) {
	for _, p := range ports {
		addrs := append([]netip.Addr{p.ClusterIP}, p.ExternalIPs...)
		addrs = append(addrs, p.LoadBalancerIPs...)
		addrs = append(addrs, p.ProxiedLoadBalancerIPs...)
		if slices.Contains(addrs, a) && r.portMatches(p) {
			return s.serviceDst(p, a), true
		}
	}
	return traceDst{}, false
}

// nodeByAddr names the node with that underlay address, "" if none.
func nodeByAddr(p *plan.Lab, a netip.Addr) string {
	for _, n := range p.Nodes {
		if n.Underlay.Addr() == a {
			return n.Name
		}
	}
	return ""
}

// resolveNodePort reads node/NAME:PORT (or node/NAME with --port): the
// node's address and the Service port whose NodePort that is, if any.
func (s *State) resolveNodePort(r TraceRequest, rest string, ports []service.Port) (traceDst, error) {
	var d traceDst
	name, portText, hasPort := strings.Cut(rest, ":")
	n := findNode(s.Plan, name)
	if n == nil {
		return d, bad("destination: node %q not found in lab %s", name, s.Plan.Name)
	}
	port := r.Port
	if hasPort {
		p, err := strconv.ParseUint(portText, 10, 16)
		if err != nil || p == 0 {
			return d, bad("destination %s: %q is no port", r.Dst, portText)
		}
		port = uint16(p)
	}
	if port == 0 && r.Proto != "icmp" {
		return d, bad("destination %s: give the port, node/%s:PORT", r.Dst, name)
	}
	d.addr = netip.AddrPortFrom(n.Underlay.Addr(), port)
	d.what = fmt.Sprintf("node %s %s", name, d.addr)
	for _, p := range ports {
		if p.NodePort == port && p.NodePort != 0 && strings.EqualFold(string(p.Protocol), r.Proto) {
			d.what = fmt.Sprintf("NodePort %d/%s of Service %s/%s on node %s %s", port, p.Protocol, p.Namespace, p.Service, name, d.addr.Addr())
			d.service = &trace.Owner{Kind: "Service", Namespace: p.Namespace, Name: p.Service}
			for _, ep := range p.Endpoints {
				if pp, ok := s.planPod(ep.Namespace + "/" + ep.Pod); ok {
					d.netns = append(d.netns, pp.Netns)
				}
			}
		}
	}
	s.hostPortDst(&d, name, r.Proto)
	return d, nil
}

func (s *State) podPort(ns, name, proto string) uint16 {
	for _, p := range s.Topology.Pods {
		if p.Namespace == ns && p.Name == name && p.Pod != nil {
			for _, wp := range workload.PortsOf(p.Pod) {
				if strings.EqualFold(wp.Protocol, proto) {
					return wp.Port
				}
			}
		}
	}
	return 0
}

// Trace sends one probe from r.Src to r.Dst and tells its journey. ports
// are the lab's Service ports as its proxies program them. The temporary
// trace tables are removed before it returns, whatever happens (a SIGKILL
// excepted: `kinn up` removes what one left).
func (s *State) Trace(ctx context.Context, r TraceRequest, ports []service.Port) (trace.Journey, string, error) {
	var j trace.Journey
	if !slices.Contains([]string{"tcp", "udp", "icmp"}, r.Proto) {
		return j, "", bad("--proto %q: tcp, udp or icmp", r.Proto)
	}
	src, err := s.Netns(r.Src)
	if errors.Is(err, ErrNotFound) {
		return j, "", &BadInput{err}
	}
	if err != nil {
		return j, "", err
	}
	dst, err := s.resolveDst(ctx, r, ports)
	if err != nil {
		return j, "", err
	}
	lk, err := lockTrace(ctx, s.o, s.Plan.Name)
	if err != nil {
		return j, "", err
	}
	defer lk.unlock()
	r.lock = lk
	title := fmt.Sprintf("kinn trace %s -> %s (%s)", s.describeSrc(r.Src), dst.what, strings.ToUpper(r.Proto))
	dnsJ, err := s.traceLookup(ctx, r, src, dst, ports)
	if err != nil {
		return j, title, err
	}
	if dst.lookup != nil && dst.lookup.silent != nil {
		return unresolved(dst, dnsJ), title, nil
	}
	var live *liveWatch
	if r.Live {
		title = strings.Replace(title, "kinn trace", "kinn trace --live", 1)
		var stop func()
		if live, stop, err = s.startLive(r, src, &dst); err != nil {
			return j, title, err
		}
		defer stop()
	}
	if j, err = s.journey(ctx, r, src, dst, ports, title); err != nil {
		return j, title, err
	}
	if live != nil {
		live.liveJourney(&j)
	}
	j.DNS = dnsJ
	return j, title, nil
}

// journey traces one probe (or live connection) from src to dst.
func (s *State) journey(ctx context.Context, r TraceRequest, src string, dst traceDst, ports []service.Port, title string) (trace.Journey, error) {
	places := s.tracePlaces()
	nss := s.traceNetns(src, dst.netns)
	in, err := s.runTrace(ctx, r, src, dst, nss, ports)
	if err != nil {
		return trace.Journey{}, err
	}
	in.Places, in.Src, in.Target, in.Service, in.Net = places, src, dst.what, dst.service, s.traceNet()
	if r.Record != nil {
		if err := trace.WriteRecording(r.Record, trace.Recording{Title: title, Input: in}); err != nil {
			return trace.Journey{}, fmt.Errorf("record the trace: %w", err)
		}
	}
	return trace.Explain(in), nil
}

func (s *State) describeSrc(t Target) string {
	switch {
	case t.External:
		return "external"
	case t.Node != "":
		return "node/" + t.Node
	}
	return "pod " + t.Namespace + "/" + t.Pod
}

// traceNetns are the namespaces the probe may cross: the source, every
// node, the switch, and the pods it may end in.
func (s *State) traceNetns(src string, dst []string) []string {
	out := []string{src, s.Plan.Switch.Netns}
	for _, n := range s.Plan.Nodes {
		out = append(out, n.Netns)
	}
	out = append(out, dst...)
	slices.Sort(out)
	return slices.Compact(out)
}

func (s *State) tracePlaces() map[string]trace.Place {
	out := map[string]trace.Place{s.Plan.Switch.Netns: {Netns: s.Plan.Switch.Netns, What: "switch"}}
	for _, n := range s.Plan.Nodes {
		out[n.Netns] = trace.Place{Netns: n.Netns, Node: n.Name, What: "node"}
	}
	for _, p := range s.Plan.Pods {
		out[p.Netns] = trace.Place{Netns: p.Netns, Node: p.Node, Pod: p.Namespace + "/" + p.Name, What: "pod"}
	}
	return out
}

func (s *State) traceNet() trace.Net {
	n := trace.Net{Bridge: plan.PodBridge, SwitchIP: s.Plan.Switch.Addr.Addr(), PodSubnet: s.Topology.Networking.PodSubnet}
	n.Planned, n.Pods = s.tracePlanned()
	if s.Plan.Chain {
		n.Bridge, n.Chain = "", true // the chain's devices are its own
	}
	for _, nd := range s.Plan.Nodes {
		n.Nodes = append(n.Nodes, trace.NetNode{Name: nd.Name, Underlay: nd.Underlay.Addr(), PodCIDR: nd.PodCIDR, Gateway: nd.Gateway.Addr()})
		for _, l := range nd.Links {
			if l.Kind == plan.KindVXLAN {
				n.VTEP = l.Name
			}
		}
	}
	return n
}
