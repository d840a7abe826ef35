package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"kinn.dev/kinn/lab/kernel"
	"kinn.dev/kinn/lab/netpol"
	"kinn.dev/kinn/lab/netpol/netpoltest"
	"kinn.dev/kinn/lab/probe"
)

// The probe harness of the NetworkPolicy end-to-end test: upstream's 3x3
// model brought up from examples/netpol.yaml, probed pair by pair with real
// connections and judged against netpoltest's tables.

// npLab is a lab running examples/netpol.yaml, as the harness sees it.
type npLab struct {
	*env
	world *netpoltest.World
	netns map[string]string     // "x/a" -> its network namespace
	svc   map[string]netip.Addr // "x/a" -> ClusterIP of s-x-a
	// nodeNetns is a pod's node's network namespace: node-local probes.
	nodeNetns map[string]string
	// matrices counts validations, retried those whose first round
	// disagreed: how often a probe outran the policy sync.
	matrices, retried int
}

// Probes run at most this many at once (2 cores; each holds a thread in a
// namespace), and a denied one gives up after probeTimeout: in a lab a
// reply takes microseconds, so a short wait only costs the denied cells.
const (
	probeConcurrency = 27
	probeTimeout     = 400 * time.Millisecond
)

// refresh reads the lab's pods, Services and nodes into the world: real
// addresses, so that the ipBlock cases name what the lab allocated.
func (l *npLab) refresh() {
	l.t.Helper()
	if l.world == nil {
		l.world = netpoltest.NewWorld()
	}
	l.netns, l.svc, l.nodeNetns = map[string]string{}, map[string]netip.Addr{}, map[string]string{}
	nodeNetns := map[string]string{}
	for _, n := range l.nodes() {
		nodeNetns[n.Name] = n.Annotations["kinn.dev/netns"]
	}
	for _, p := range l.userPods() {
		key := p.Namespace + "/" + p.Name
		wp := l.world.Pod(key)
		if wp == nil {
			continue
		}
		ip, err := netip.ParseAddr(p.Status.PodIP)
		if err != nil {
			l.t.Fatalf("pod %s: IP %q: %v", key, p.Status.PodIP, err)
		}
		wp.IP, wp.Node = ip, p.Spec.NodeName
		l.netns[key] = p.Annotations["kinn.dev/netns"]
		l.nodeNetns[key] = nodeNetns[p.Spec.NodeName]
	}
	var svcs corev1.ServiceList
	if err := json.Unmarshal([]byte(l.must("get", "svc", "-A", "-o", "json", "--name", l.name)), &svcs); err != nil {
		l.t.Fatal(err)
	}
	for _, s := range svcs.Items {
		for _, p := range l.world.Pods {
			if s.Namespace == p.Namespace && s.Name == "s-"+p.Namespace+"-"+p.Name {
				l.svc[p.String()], _ = netip.ParseAddr(s.Spec.ClusterIP)
			}
		}
	}
	for _, p := range l.world.PodStrings() {
		if l.netns[p] == "" || !l.svc[p].IsValid() {
			l.t.Fatalf("pod %s or its Service s-%s is missing from the lab", p, p)
		}
	}
}

// target says where a probe goes: the destination pod's Service (as
// upstream probes today, so the proxy's DNAT happens first) or its IP.
type target int

const (
	viaService target = iota
	viaPodIP
)

func (v target) String() string { return [...]string{"via Service", "via pod IP"}[v] }

// connect reports whether one connection from the netns reaches addr:
// a TCP handshake, or a UDP datagram answered by the pod's server.
func connect(netns string, proto corev1.Protocol, addr netip.AddrPort) bool {
	p := probe.Prober{Enter: kernel.Do, Netns: netns, Timeout: probeTimeout}
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	if proto == corev1.ProtocolUDP {
		_, err := p.UDP(ctx, addr.String(), "hostname")
		return err == nil
	}
	c, err := p.Dial(ctx, "tcp", addr.String())
	if err == nil {
		c.Close()
	}
	return err == nil
}

// matrix probes every source pod to every destination pod on port/proto,
// in parallel, bounded, and returns what the packets did.
func (l *npLab) matrix(proto corev1.Protocol, port int32, via target) *netpol.TruthTable {
	pods := l.world.PodStrings()
	t := netpol.NewTruthTable(pods, pods)
	sem := make(chan struct{}, probeConcurrency)
	var wg sync.WaitGroup
	for i, from := range pods {
		for j, to := range pods {
			addr := l.svc[to]
			if via == viaPodIP {
				addr = l.world.IP(to)
			}
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				// Each goroutine writes its own cell.
				t.Cells[i][j] = netpol.CellOf(connect(l.netns[from], proto, netip.AddrPortFrom(addr, uint16(port))))
			}()
		}
	}
	wg.Wait()
	if via == viaPodIP {
		// A pod's connection to its own IP never leaves its namespace
		// (loopback), so no policy can see it: upstream ignores those
		// cells, and so does this comparison.
		for i := range pods {
			t.Cells[i][i] = netpol.Unknown
		}
	}
	return t
}

// allOpen is the table with no policy in force: every pair allowed.
func (l *npLab) allOpen() *netpol.TruthTable {
	return netpoltest.Probe{}.Expected(l.world.PodStrings())
}

// agrees reports whether the comparison of two tables has no differing
// cell. As upstream's ValidateOrFail does (ignoreLoopback), a pod's cell
// to itself is not judged: the evaluator allows it, since traffic to its
// own address never leaves the pod, while through its Service it hairpins
// through the node and meets the policies.
func agrees(cmp *netpol.TruthTable) bool {
	for i, row := range cmp.Cells {
		for j, c := range row {
			if c == netpol.Denied && cmp.Froms[i] != cmp.Tos[j] {
				return false
			}
		}
	}
	return true
}

// syncWait bounds how long a policy change may take to reach every node:
// the probes are repeated until they agree or this much time has passed.
const syncWait = 2 * time.Second

// validate is upstream's ValidateOrFail: probe the matrix until it matches
// want (the policies take a moment to sync), and on a mismatch fail with
// upstream's expected, observed and comparison tables.
func (l *npLab) validate(what string, want *netpol.TruthTable, proto corev1.Protocol, port int32, via target) {
	l.t.Helper()
	if msg := l.mismatch(want, proto, port, via); msg != "" {
		l.t.Errorf("%s, %d/%s %s: %s", what, port, proto, via, msg)
	}
}

// mismatch probes until the packets agree with want or syncWait is over,
// and then says how they disagree ("" if they agree).
func (l *npLab) mismatch(want *netpol.TruthTable, proto corev1.Protocol, port int32, via target) string {
	deadline := time.Now().Add(syncWait)
	l.matrices++
	for round := 0; ; round++ {
		got := l.matrix(proto, port, via)
		cmp := want.Compare(got)
		if agrees(cmp) {
			return ""
		}
		if round == 0 {
			l.retried++
		}
		if time.Now().After(deadline) {
			right, wrong, _ := cmp.Summary(true)
			return fmt.Sprintf("%d correct, %d incorrect\nexpected:\n%s\nobserved:\n%s\ncomparison:\n%s",
				right, wrong, want.PrettyPrint("  "), got.PrettyPrint("  "), cmp.PrettyPrint("  "))
		}
	}
}

// nodeLocal probes every pod from its own node's namespace, by pod IP:
// kubelet's health checks come from there, and a policy never blocks them.
func (l *npLab) nodeLocal(proto corev1.Protocol, port int32) []string {
	var blocked []string
	for _, p := range l.world.PodStrings() {
		addr := netip.AddrPortFrom(l.world.IP(p), uint16(port))
		if !connect(l.nodeNetns[p], proto, addr) {
			blocked = append(blocked, fmt.Sprintf("node of %s -> %s", p, net.JoinHostPort(addr.Addr().String(), strconv.Itoa(int(port)))))
		}
	}
	return blocked
}
