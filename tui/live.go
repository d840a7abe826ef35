package tui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"kinn.dev/kinn/lab"
	"kinn.dev/kinn/lab/cni"
	"kinn.dev/kinn/lab/daemon"
	"kinn.dev/kinn/lab/kernel"
	"kinn.dev/kinn/lab/probe"
	"kinn.dev/kinn/lab/service"
	"kinn.dev/kinn/topology"
)

// Live is the Source of a running lab: the lab's recorded state, its lab
// process's status and the kernel's counters, all through package lab.
// Every read of the kernel or the lab process is bounded by readTimeout,
// whatever the caller's context allows, and no lock is held across one.
type Live struct {
	o    lab.Options
	name string

	mu      sync.Mutex
	st      *lab.State
	stamp   time.Time // of the state files st was read from
	prev    map[string]lab.LinkSample
	history map[string][]float64
	seen    map[uint32]time.Time // conntrack ids and when first seen
	tracker *lab.ConnTracker

	// What was last read, kept while what it came from is unchanged: at
	// rest, a 1,000-pod lab's snapshot and events cost a comparison.
	snap       *Snapshot
	snapOf     *lab.State
	snapStatus *daemon.Status
	snapNetns  time.Time // netnsStamp when snap was built
	// descEvents are what the pod view's describe last read, from the
	// files whose stamps are descEventsOf.
	descEvents   []lab.Event
	descEventsOf [2]fileStamp
	events       []Event
	eventsOf     [2]fileStamp
}

// fileStamp is a file's size and modification time: whether it changed.
type fileStamp struct {
	size int64
	mod  time.Time
}

func stampOf(path string) fileStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}
	}
	return fileStamp{fi.Size(), fi.ModTime()}
}

var _ Source = (*Live)(nil)

// readTimeout bounds a read of the kernel or the lab process: one that has
// not come back by then is stuck, not slow (a read takes milliseconds), and
// the next refresh tries again.
const readTimeout = 5 * time.Second

// NewLive watches the named lab.
func NewLive(o lab.Options, name string) *Live {
	return &Live{o: o, name: name, prev: map[string]lab.LinkSample{}, history: map[string][]float64{},
		seen: map[uint32]time.Time{}, tracker: lab.NewConnTracker()}
}

// Close releases what the source keeps open.
func (l *Live) Close() { l.tracker.Close() }

// state returns the lab's state, read again only when its files changed.
func (l *Live) state() (*lab.State, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fi, err := os.Stat(filepath.Join(l.o.StateDir(l.name), "plan.json"))
	if err != nil {
		return nil, fmt.Errorf("lab %s: %w", l.name, err)
	}
	if l.st != nil && !fi.ModTime().After(l.stamp) {
		return l.st, nil
	}
	st, err := lab.Load(l.o, l.name)
	if err != nil {
		return nil, err
	}
	l.st, l.stamp = st, fi.ModTime()
	return st, nil
}

func (l *Live) status(ctx context.Context) *daemon.Status {
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	s, _ := daemon.NewClient(l.o, l.name).Status(ctx)
	return s
}

// Snapshot implements Source.
func (l *Live) Snapshot(ctx context.Context) (*Snapshot, error) {
	st, err := l.state()
	if err != nil {
		return nil, err
	}
	status := l.status(ctx)
	// Namespaces created or deleted (by hand, too) change what the
	// snapshot says of pods and nodes though state and status do not.
	netns := netnsStamp()
	l.mu.Lock()
	if l.snap != nil && l.snapOf == st && l.snapNetns.Equal(netns) && reflect.DeepEqual(l.snapStatus, status) {
		defer l.mu.Unlock()
		return l.snap, nil // the same pointer: the screens need not lay it out again
	}
	l.mu.Unlock()
	snap := l.buildSnapshot(st, status)
	l.mu.Lock()
	l.snap, l.snapOf, l.snapStatus, l.snapNetns = snap, st, status, netns
	l.mu.Unlock()
	return snap, nil
}

// netnsStamp is when a namespace was last added to or removed from
// /run/netns (the directory's mtime), zero if it cannot be read.
func netnsStamp() time.Time {
	fi, err := os.Stat(kernel.NetnsDir)
	if err != nil {
		return time.Time{}
	}
	return fi.ModTime()
}

// buildSnapshot is the Cluster screen's view of a state and a status.
func (l *Live) buildSnapshot(st *lab.State, status *daemon.Status) *Snapshot {
	snap := &Snapshot{Lab: l.name, Taken: time.Now(), Unknown: status == nil}
	for _, n := range st.Nodes() {
		role := "worker"
		if _, ok := n.Labels["node-role.kubernetes.io/control-plane"]; ok {
			role = "control-plane"
		}
		mac, gw := "", ""
		for _, pn := range st.Plan.Nodes {
			if pn.Name != n.Name {
				continue
			}
			gw = pn.Gateway.Addr().String()
			for _, link := range pn.Links {
				if link.VXLAN != nil {
					mac = link.MAC
				}
			}
		}
		ready := n.Status.Conditions[0]
		ni := NodeInfo{Name: n.Name, Role: role, IP: n.Status.Addresses[0].Address,
			PodCIDR: n.Spec.PodCIDR, VTEPMAC: mac, Gateway: gw, Ready: ready.Status == "True"}
		if !ni.Ready {
			ni.Reason = ready.Message
		}
		snap.Nodes = append(snap.Nodes, ni)
	}
	for _, p := range st.PodsLive(status.Live()) {
		pi := PodInfo{Namespace: p.Namespace, Name: p.Name, Node: p.Spec.NodeName, IP: p.Status.PodIP,
			Terminating: p.DeletionTimestamp != nil, Networks: lab.NetworksText(p)}
		for _, c := range p.Status.Conditions {
			pi.Ready = pi.Ready || (c.Type == "Ready" && c.Status == "True")
		}
		if status != nil {
			pi.Reason = status.Pods[p.Namespace+"/"+p.Name].Reason
		}
		// The probe's own error (or why else it is not ready), as
		// `get pods -o wide` and describe say it.
		pi.Reason = podReason(p, cmpOr(lab.NotReadyReason(p), pi.Reason))
		for _, c := range p.Spec.Containers {
			for _, cp := range c.Ports {
				pi.Ports = append(pi.Ports, fmt.Sprintf("%d/%s", cp.ContainerPort, cmpOr(string(cp.Protocol), "TCP")))
			}
		}
		snap.Pods = append(snap.Pods, pi)
	}
	ports := st.ServicePorts(status.Readiness())
	for _, s := range st.Services {
		si := ServiceInfo{Namespace: s.Namespace, Name: s.Name, Type: string(s.Spec.Type), ClusterIP: s.Spec.ClusterIP}
		for _, sp := range s.Spec.Ports {
			p := fmt.Sprintf("%d/%s", sp.Port, sp.Protocol)
			if sp.NodePort != 0 {
				p = fmt.Sprintf("%d:%d/%s", sp.Port, sp.NodePort, sp.Protocol)
			}
			si.Ports = append(si.Ports, p)
		}
		si.ExternalIPs = append(si.ExternalIPs, s.Spec.ExternalIPs...)
		for _, in := range s.Status.LoadBalancer.Ingress {
			if in.IP != "" {
				si.ExternalIPs = append(si.ExternalIPs, in.IP)
			}
		}
		si.ReadyEndpoints, si.TotalEndpoints = endpointCounts(ports, s.Namespace, s.Name)
		snap.Services = append(snap.Services, si)
	}
	return snap
}

// endpointCounts counts a Service's distinct endpoints over its ports.
func endpointCounts(ports []service.Port, ns, name string) (ready, total int) {
	seen := map[netip.Addr]bool{}
	for _, p := range ports {
		if p.Namespace != ns || p.Service != name {
			continue
		}
		for _, e := range p.Endpoints {
			if !seen[e.IP] {
				seen[e.IP] = true
				total++
				if e.Ready {
					ready++
				}
			}
		}
	}
	return ready, total
}

// historyLen is how much of the past a sparkline shows, one sample a refresh.
const historyLen = 60

// Rates implements Source: rates are the difference of two samples.
func (l *Live) Rates(ctx context.Context) ([]Rate, error) {
	st, err := l.state()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	samples, errs := st.LinkSamples(ctx)
	tunnels, terrs := st.TunnelSamples(ctx, l.tracker)
	samples, errs = append(samples, tunnels...), append(errs, terrs...)
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Rate
	for _, s := range samples {
		r := Rate{Name: s.Name, Kind: s.Kind, Node: s.Node}
		if p, ok := l.prev[s.Name]; ok {
			if dt := s.Taken.Sub(p.Taken).Seconds(); dt > 0 {
				r.RxBps, r.TxBps = perSecond(s.RxBytes, p.RxBytes, dt), perSecond(s.TxBytes, p.TxBytes, dt)
				r.RxPps, r.TxPps = perSecond(s.RxPackets, p.RxPackets, dt), perSecond(s.TxPackets, p.TxPackets, dt)
			}
		}
		l.prev[s.Name] = s
		h := append(l.history[s.Name], r.RxBps+r.TxBps)
		if len(h) > historyLen {
			h = h[len(h)-historyLen:]
		}
		l.history[s.Name] = h
		r.History = slices.Clone(h)
		out = append(out, r)
	}
	return out, errors.Join(errs...)
}

// perSecond is a counter's rate; a counter that fell (a link made anew, a
// tunnel's idle flows expired) counts as no traffic, not as 2^64 bytes.
func perSecond(now, before uint64, dt float64) float64 {
	if now < before {
		return 0
	}
	return float64(now-before) / dt
}

// Flows implements Source: the tracked connections that involve a pod or a
// Service, newest first.
func (l *Live) Flows(ctx context.Context) ([]Flow, error) {
	st, err := l.state()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	conns, errs := st.Connections(ctx, l.tracker)
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	out := []Flow{} // not nil: "none yet" is an answer, not "still waiting"
	alive := map[uint32]bool{}
	tunnel := st.Topology.Networking.VXLANPort
	// A Service connection is tracked twice: NATed on the client's node,
	// and as plain pod-to-pod traffic on the endpoint's. Show it once.
	natted := map[[2]netip.AddrPort]bool{}
	for _, c := range conns {
		if c.Endpoint != c.Dest {
			natted[[2]netip.AddrPort{c.Client, c.Endpoint}] = true
		}
	}
	for _, c := range conns {
		if c.Endpoint == c.Dest && natted[[2]netip.AddrPort{c.Client, c.Dest}] {
			continue
		}
		// The overlay's own UDP (each node tracks its VXLAN packets) would
		// bury the pods' connections.
		if c.Client.Addr().IsLoopback() || (c.Proto == "UDP" && c.Dest.Port() == tunnel) {
			continue
		}
		alive[c.ID] = true
		first, ok := l.seen[c.ID]
		if !ok {
			first = now
			if !c.Started.IsZero() {
				first = c.Started // conntrack's own timestamp
			}
			l.seen[c.ID] = first
		}
		f := Flow{Node: c.Node, Proto: c.Proto, Client: c.Client.String(), Service: c.Dest.String(), SvcName: c.Service,
			State: c.State, Bytes: c.Bytes, Started: first, New: !ok}
		if c.Endpoint != c.Dest {
			f.Endpoint = c.Endpoint.String()
		}
		out = append(out, f)
	}
	for id := range l.seen {
		if !alive[id] {
			delete(l.seen, id)
		}
	}
	slices.SortStableFunc(out, func(a, b Flow) int { return b.Started.Compare(a.Started) })
	return out, errors.Join(errs...)
}

// Rules implements Source.
func (l *Live) Rules(ctx context.Context, node string) (*lab.RulesView, error) {
	st, err := l.state()
	if err != nil {
		return nil, err
	}
	ports := st.ServicePorts(l.status(ctx).Readiness())
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	return st.Rules(ctx, node, ports)
}

// Events implements Source: the lab process's log, newest first.
func (l *Live) Events(ctx context.Context) ([]Event, error) {
	logPath, callsPath := daemon.LogPath(l.o, l.name), lab.CNILogPath(l.o, l.name)
	stamps := [2]fileStamp{stampOf(logPath), stampOf(callsPath)}
	l.mu.Lock()
	if l.events != nil && stamps == l.eventsOf {
		defer l.mu.Unlock()
		return l.events, nil
	}
	l.mu.Unlock()
	out, err := l.readEvents(logPath)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.events, l.eventsOf = out, stamps
	l.mu.Unlock()
	return out, nil
}

// readEvents reads the lab process's log and the CNI calls, newest first.
func (l *Live) readEvents(logPath string) ([]Event, error) {
	b, err := os.ReadFile(logPath)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	var out []Event
	for i := len(lines) - 1; i >= 0 && len(out) < 500; i-- {
		out = append(out, parseEvent(lines[i]))
	}
	// CNI calls, with their result: kinn up makes them, not the lab
	// process. The log is oldest first: the newest 200.
	calls, _ := lab.CNICalls(l.o, l.name)
	for i := max(len(calls)-200, 0); i < len(calls); i++ {
		out = append(out, callEvent(&calls[i]))
	}
	slices.SortStableFunc(out, func(a, b Event) int { return b.Time.Compare(a.Time) })
	return out, nil
}

// podReason is why a pod is not running: the CNI error that left it
// without a sandbox (the kubelet's FailedCreatePodSandBox), else what the
// lab process says of its workload.
func podReason(p corev1.Pod, workload string) string {
	if p.Status.Reason != lab.ReasonCNIFailed {
		return workload
	}
	return strings.TrimPrefix(p.Status.Message, "pod "+p.Namespace+"/"+p.Name+": ")
}

// callEvent is a CNI call's row: "ADD default/web-1 on kinn-worker by
// bridge: ok (3.1 ms)"; the call itself goes along for the detail view.
func callEvent(c *cni.Call) Event {
	what := strings.Join(strings.Fields(c.Command+" "+c.Pod), " ")
	outcome := strings.Join(strings.Fields(c.Outcome()), " ")
	var res struct{ IPs []struct{ Address string } }
	if json.Unmarshal(c.Result, &res) == nil && len(res.IPs) > 0 && c.OK() {
		outcome += " " + res.IPs[0].Address
	}
	return Event{Time: c.Time, Kind: "cni", Call: c,
		Message: fmt.Sprintf("%s on %s by %s: %s (%.1f ms)", what, c.Node, c.Plugin, outcome, c.DurationMS)}
}

// parseEvent reads one log line ("2006/01/02 15:04:05 message").
func parseEvent(line string) Event {
	if len(line) > 20 {
		if t, err := time.ParseInLocation("2006/01/02 15:04:05", line[:19], time.Local); err == nil {
			msg := line[20:]
			kind := "lab"
			switch {
			case strings.HasPrefix(msg, "pod "):
				kind = "pod"
			case strings.HasPrefix(msg, "proxy "):
				kind = "proxy"
			case strings.HasPrefix(msg, "endpoints "):
				kind = "endpoints"
			}
			return Event{Time: t, Kind: kind, Message: msg}
		}
	}
	return Event{Kind: "lab", Message: line}
}

// SendRequests implements Source: n requests from a pod to a Service's
// first port, each of the kind the port speaks (see portSpeaks), counted
// by the pod that answered or by what came back.
func (l *Live) SendRequests(ctx context.Context, fromPod, svc string, n int) (map[string]int, error) {
	st, err := l.state()
	if err != nil {
		return nil, err
	}
	ns, pod, _ := strings.Cut(fromPod, "/")
	netns, err := st.Netns(lab.Target{Namespace: ns, Pod: pod})
	if err != nil {
		return nil, err
	}
	var addr string
	var port corev1.ServicePort
	for _, s := range st.Services {
		if s.Namespace+"/"+s.Name == svc && len(s.Spec.Ports) > 0 && s.Spec.ClusterIP != "None" {
			port = s.Spec.Ports[0]
			addr = fmt.Sprintf("%s:%d", s.Spec.ClusterIP, port.Port)
		}
	}
	if addr == "" {
		return nil, fmt.Errorf("service %s has no ClusterIP port", svc)
	}
	p := probe.Prober{Enter: kernel.Do, Netns: netns, Timeout: time.Second}
	speaks := portSpeaks(port)
	got := map[string]int{}
	for range n {
		answer, err := request(ctx, p, speaks, addr, string(port.Protocol), st.Topology.Networking.DNSDomain)
		if err != nil {
			got[failure(err)]++
			continue
		}
		got[answer]++
	}
	return got, nil
}

// Scale implements Source, through the CLI's path.
func (l *Live) Scale(ctx context.Context, ns, deployment string, replicas int) error {
	_, err := daemon.Edit(ctx, l.o, l.name, func(raw []byte, _ string) ([]byte, error) {
		return topology.Scale(raw, ns, deployment, replicas)
	})
	return err
}

// SetReady implements Source.
func (l *Live) SetReady(ctx context.Context, ns, pod string, ready bool) error {
	return daemon.NewClient(l.o, l.name).SetReady(ctx, ns, pod, ready)
}

// DeletePod implements Source, with the pod's own grace period.
func (l *Live) DeletePod(ctx context.Context, ns, pod string) error {
	return daemon.NewClient(l.o, l.name).DeletePod(ctx, ns, pod, -1)
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
