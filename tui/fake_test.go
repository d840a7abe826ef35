package tui

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/containernetworking/cni/pkg/types"

	"kinn.dev/kinn/lab"
	"kinn.dev/kinn/lab/cni"
	"kinn.dev/kinn/lab/trace"
)

// t0 is the fake lab's "now": every time in it is relative to t0.
var t0 = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

// fakeSource is a small fixed lab: 3 nodes, 5 pods, 2 services. It
// records every action it is asked for; block makes a kind hang (ignoring
// its context, as a badly behaved collector would).
type fakeSource struct {
	mu     sync.Mutex
	snap   Snapshot
	rates  []Rate
	flows  []Flow
	rules  map[string]*lab.RulesView
	events []Event
	calls  []string
	block  map[string]bool
	fail   map[string]error
}

var _ Source = (*fakeSource)(nil)

func newFake() *fakeSource {
	f := &fakeSource{block: map[string]bool{}, fail: map[string]error{}}
	f.snap = Snapshot{
		Lab: "demo",
		Nodes: []NodeInfo{
			{Name: "demo-control-plane", Role: "control-plane", IP: "172.30.0.2", PodCIDR: "10.244.0.0/24", VTEPMAC: "02:6b:00:00:00:01", Gateway: "10.244.0.1", Ready: true},
			{Name: "demo-worker", Role: "worker", IP: "172.30.0.3", PodCIDR: "10.244.1.0/24", VTEPMAC: "02:6b:00:00:00:02", Gateway: "10.244.1.1", Ready: true},
			{Name: "demo-worker2", Role: "worker", IP: "172.30.0.4", PodCIDR: "10.244.2.0/24", VTEPMAC: "02:6b:00:00:00:03", Gateway: "10.244.2.1", Ready: false},
		},
		Pods: []PodInfo{
			{Namespace: "default", Name: "client", Node: "demo-worker", IP: "10.244.1.2", Ready: true},
			{Namespace: "default", Name: "web-7d4b9c8f6-x2k9p", Node: "demo-worker", IP: "10.244.1.3", Ready: true, Ports: []string{"8080/TCP"}},
			{Namespace: "default", Name: "web-7d4b9c8f6-q8z7m", Node: "demo-worker2", IP: "10.244.2.2", Ready: true, Ports: []string{"8080/TCP"}},
			{Namespace: "default", Name: "web-7d4b9c8f6-vv5tn", Node: "demo-worker2", IP: "10.244.2.3", Ready: false, Ports: []string{"8080/TCP"}, Reason: "readiness set false"},
			{Namespace: "kube-system", Name: "coredns-5d78c9869d-h7r2k", Node: "demo-control-plane", IP: "10.244.0.2", Ready: true, Ports: []string{"53/UDP", "53/TCP"}},
		},
		Services: []ServiceInfo{
			{Namespace: "default", Name: "web", Type: "NodePort", ClusterIP: "10.96.20.5", Ports: []string{"80:30080/TCP"}, ExternalIPs: []string{"172.30.255.1"}, ReadyEndpoints: 2, TotalEndpoints: 3},
			{Namespace: "kube-system", Name: "kube-dns", Type: "ClusterIP", ClusterIP: "10.96.0.10", Ports: []string{"53/UDP", "53/TCP"}, ReadyEndpoints: 1, TotalEndpoints: 1},
		},
		Taken: t0,
	}
	hist := func(base float64, n int) []float64 {
		h := make([]float64, n)
		for i := range h {
			h[i] = base * float64((i*7)%10+1)
		}
		return h
	}
	f.rates = []Rate{
		{Name: "default/client", Kind: "pod", Node: "demo-worker", RxBps: 12_800, TxBps: 3_100, RxPps: 40, TxPps: 38, History: hist(1000, 60)},
		{Name: "demo-worker/eth0", Kind: "uplink", Node: "demo-worker", RxBps: 2_400_000, TxBps: 1_900_000, RxPps: 2_100, TxPps: 1_800, History: hist(400_000, 60)},
		{Name: "demo-worker/vxlan.kinn", Kind: "vxlan", Node: "demo-worker", RxBps: 800_000, TxBps: 640_000, RxPps: 700, TxPps: 650, History: hist(100_000, 30)},
		{Name: "default/web-7d4b9c8f6-x2k9p", Kind: "pod", Node: "demo-worker", RxBps: 5_000, TxBps: 90_000, RxPps: 20, TxPps: 70, History: hist(9_000, 12)},
		{Name: "demo-worker2/kinn0", Kind: "bridge", Node: "demo-worker2", History: make([]float64, 60)},
	}
	f.flows = []Flow{
		{Node: "demo-worker", Proto: "tcp", Client: "10.244.1.2:40112", Service: "10.96.20.5:80", Endpoint: "10.244.2.2:8080", State: "ESTABLISHED", Bytes: 18_432, Started: t0.Add(-95 * time.Second)},
		{Node: "demo-worker", Proto: "tcp", Client: "10.244.1.2:40118", Service: "10.96.20.5:80", Endpoint: "10.244.1.3:8080", State: "TIME_WAIT", Bytes: 1_210, Started: t0.Add(-3 * time.Second), New: true},
		{Node: "demo-worker", Proto: "udp", Client: "10.244.1.2:53124", Service: "10.96.0.10:53", Endpoint: "10.244.0.2:53", State: "UNREPLIED", Bytes: 74, Started: t0.Add(-1 * time.Second), New: true},
		{Node: "demo-worker2", Proto: "tcp", Client: "172.30.0.1:51000", Service: "172.30.0.4:30080", State: "SYN_SENT", Bytes: 60, Started: t0.Add(-12 * time.Minute)},
		{Node: "demo-worker", Proto: "tcp", Client: "10.244.1.1:43210", Service: "10.244.1.3:8080", State: "TIME_WAIT", Bytes: 320, Started: t0.Add(-7 * time.Second)},
		{Node: "demo-worker2", Proto: "2", Client: "10.244.2.1:0", Service: "224.0.0.22:0", State: "UNREPLIED", Bytes: 40, Started: t0.Add(-30 * time.Second)},
		{Node: "demo-worker", Proto: "tcp", Client: "10.244.1.2:40200", Service: "172.30.255.1:80", Endpoint: "10.244.2.2:8080", State: "ESTABLISHED", Bytes: 900, Started: t0.Add(-20 * time.Second)},
	}
	f.rules = map[string]*lab.RulesView{}
	for i, n := range f.snap.Nodes {
		f.rules[n.Name] = rulesFor(n, uint64(i))
	}
	f.events = []Event{
		{Time: t0.Add(-10 * time.Minute), Kind: "pod", Message: "default/web-7d4b9c8f6-x2k9p started on demo-worker"},
		{Time: t0.Add(-2 * time.Minute), Kind: "endpoints", Message: "default/web: 10.244.2.3:8080 not ready"},
		{Time: t0.Add(-30 * time.Second), Kind: "drift", Message: "demo-worker2: route 10.244.1.0/24 missing, re-added"},
		callEvent(&cni.Call{Time: t0.Add(-5 * time.Minute), Command: "ADD", Pod: "default/client", Node: "demo-worker", Plugin: "bridge",
			DurationMS: 3.14, Result: json.RawMessage(`{"cniVersion":"1.1.0","ips":[{"address":"10.244.1.2/24"}]}`)}),
		callEvent(&cni.Call{Time: t0.Add(-4 * time.Minute), Command: "ADD", Pod: "default/doomed", Node: "demo-worker2", Network: "mynet",
			Plugin: "bridge", Binary: "/opt/cni/bin/bridge", DurationMS: 12.5, ExitStatus: 2,
			Env:     map[string]string{"CNI_COMMAND": "ADD", "CNI_IFNAME": "eth0", "CNI_ARGS": "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=doomed"},
			Config:  json.RawMessage(`{"cniVersion":"1.1.0","name":"mynet","type":"bridge","bridge":"cni0"}`),
			Failure: "plugin bridge failed (exit status 2) with no CNI error on stdout; stderr: panic: boom",
			Stderr:  "panic: boom\n\ngoroutine 1 [running]:\nmain.cmdAdd(...)\n\t/src/bridge.go:42 +0x1d\n"}),
	}
	// A change's routine GC and STATUS on each node, one STATUS failing.
	for i, n := range f.snap.Nodes {
		for j, cmd := range []string{"GC", "STATUS"} {
			c := &cni.Call{Time: t0.Add(-3*time.Minute + time.Duration(2*i+j)*100*time.Millisecond), Command: cmd, Node: n.Name,
				Plugin: "kinn", DurationMS: 0.4}
			if n.Name == "demo-worker2" && cmd == "STATUS" {
				c.Error = &types.Error{Code: 50, Msg: "plugin not available", Details: "bridge cni0 missing"}
			}
			f.events = append(f.events, callEvent(c))
		}
	}
	return f
}

// rulesFor is a node's rules: the web Service's ClusterIP and NodePort
// frontends, and the node's overlay entries.
func rulesFor(n NodeInfo, seed uint64) *lab.RulesView {
	eps := func(used bool) []lab.EndpointView {
		return []lab.EndpointView{
			{Pod: "default/web-7d4b9c8f6-x2k9p", Addr: "10.244.1.3:8080", Node: "demo-worker", State: "ready", Used: used, Chain: "sep-web-80-a1", Packets: 120 + seed, Bytes: 9_000},
			{Pod: "default/web-7d4b9c8f6-q8z7m", Addr: "10.244.2.2:8080", Node: "demo-worker2", State: "ready", Used: true, Chain: "sep-web-80-b2", Packets: 98, Bytes: 7_350},
			{Pod: "default/web-7d4b9c8f6-vv5tn", Addr: "10.244.2.3:8080", Node: "demo-worker2", State: "unready", Chain: "sep-web-80-c3"},
		}
	}
	v := &lab.RulesView{Node: n.Name, IP: n.IP, PodCIDR: n.PodCIDR,
		Services: []lab.FrontendView{
			{Service: "default/web", Frontend: "10.96.20.5:80/TCP", Kind: "ClusterIP", Chain: "svc-web-80", Packets: 218 + seed, Bytes: 16_350, Endpoints: eps(true)},
			{Service: "default/web", Frontend: "<node>:30080/TCP", Kind: "NodePort", Chain: "ext-web-80", Packets: 4, Bytes: 240, Endpoints: eps(true),
				Note: "externalTrafficPolicy Local: this node's endpoints only, client address kept"},
			{Service: "kube-system/kube-dns", Frontend: "10.96.0.10:53/UDP", Kind: "ClusterIP", Chain: "svc-dns-53", Packets: 31, Bytes: 2_480,
				Endpoints: []lab.EndpointView{{Pod: "kube-system/coredns-5d78c9869d-h7r2k", Addr: "10.244.0.2:53", Node: "demo-control-plane", State: "ready", Used: true, Chain: "sep-dns-53-d4", Packets: 31, Bytes: 2_480}}},
		},
		Routes: []lab.EntryView{
			{Entry: "default via 172.30.0.1 dev eth0", Note: "everything else, to the switch (the outside world)"},
			{Entry: "10.244.0.0/24 via 10.244.0.0 dev vxlan.kinn onlink", Note: "demo-control-plane's pods"},
			{Entry: "10.244.1.0/24 via 10.244.1.0 dev vxlan.kinn onlink", Note: "demo-worker's pods"},
		},
		Neigh: []lab.EntryView{{Entry: "10.244.0.0 lladdr 02:6b:00:00:00:01 dev vxlan.kinn permanent", Note: "demo-control-plane's VTEP"}},
		FDB:   []lab.EntryView{{Entry: "02:6b:00:00:00:01 dst 172.30.0.2 dev vxlan.kinn self permanent", Note: "to demo-control-plane"}},
		Table: tableFor(seed),
	}
	return v
}

// tableFor is a few of the table's objects: hooked and regular chains
// with counters, a map and a set with their sizes, a per-Service family.
func tableFor(seed uint64) []lab.TableObjectView {
	pkts := func(n uint64) *uint64 { return &n }
	size := func(n int) *int { return &n }
	return []lab.TableObjectView{
		{Name: "nat-prerouting", Kind: "chain", Hook: "nat prerouting -100", Packets: pkts(480 + seed), Short: "DNAT of arriving packets: jump services"},
		{Name: "services", Kind: "chain", Packets: pkts(253 + seed), Short: "Service dispatch through @service-ips and @service-nodeports"},
		{Name: "service-ips", Kind: "map", Elements: size(2), Short: "Service IP . proto . port -> its Service chain"},
		{Name: "nodeport-ips", Kind: "set", Elements: size(1), Short: "the addresses NodePorts answer on"},
		{Name: "cluster-ips-check", Kind: "chain", Packets: pkts(3), Short: "refuse ClusterIP ports that do not exist"},
		{Name: "reject", Kind: "chain", Packets: pkts(0), KubeProxy: "reject-chain", Short: "reject: ICMP port unreachable"},
		{Name: "svc-*", Kind: "chain", Count: size(2), KubeProxy: "service-*", Short: "one Service port, all endpoints (policy Cluster)"},
	}
}

func (f *fakeSource) wait(ctx context.Context, what string) error {
	f.mu.Lock()
	block, err := f.block[what], f.fail[what]
	f.mu.Unlock()
	if block {
		select {} // a collector stuck in the kernel: ignores ctx
	}
	return err
}

func (f *fakeSource) Snapshot(ctx context.Context) (*Snapshot, error) {
	if err := f.wait(ctx, "snapshot"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.snap
	return &s, nil
}

func (f *fakeSource) Rates(ctx context.Context) ([]Rate, error) {
	if err := f.wait(ctx, "rates"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rates, nil
}

func (f *fakeSource) Flows(ctx context.Context) ([]Flow, error) {
	if err := f.wait(ctx, "flows"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.flows, nil
}

func (f *fakeSource) Rules(ctx context.Context, node string) (*lab.RulesView, error) {
	if err := f.wait(ctx, "rules"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.rules[node]
	if !ok {
		return nil, fmt.Errorf("node %q not found", node)
	}
	c := *v
	c.Services = append([]lab.FrontendView(nil), v.Services...)
	return &c, nil
}

func (f *fakeSource) Events(ctx context.Context) ([]Event, error) {
	if err := f.wait(ctx, "events"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.events, nil
}

func (f *fakeSource) record(format string, args ...any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	call := fmt.Sprintf(format, args...)
	f.calls = append(f.calls, call)
	return f.fail[call]
}

func (f *fakeSource) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeSource) SendRequests(ctx context.Context, from, svc string, n int) (map[string]int, error) {
	if err := f.record("SendRequests %s %s %d", from, svc, n); err != nil {
		return nil, err
	}
	return map[string]int{"web-7d4b9c8f6-x2k9p": n / 2, "web-7d4b9c8f6-q8z7m": n - n/2}, nil
}

func (f *fakeSource) Scale(ctx context.Context, ns, deploy string, replicas int) error {
	return f.record("Scale %s/%s %d", ns, deploy, replicas)
}

func (f *fakeSource) SetReady(ctx context.Context, ns, pod string, ready bool) error {
	return f.record("SetReady %s/%s %t", ns, pod, ready)
}

func (f *fakeSource) DeletePod(ctx context.Context, ns, pod string) error {
	return f.record("DeletePod %s/%s", ns, pod)
}

func (f *fakeSource) Describe(ctx context.Context, ns, pod string) (string, error) {
	if err := f.record("Describe %s/%s", ns, pod); err != nil {
		return "", err
	}
	return fmt.Sprintf("Name:         %s\nNamespace:    %s\nConditions:\n  Type   Status\n  Ready  True\nEvents:\n  Normal  Started  10m  kubelet  Started container\n", pod, ns), nil
}

// Trace answers with a journey recorded from a real lab (`kinn trace -o
// json client svc/web`; testdata/trace-dropped.json for a destination
// with "255" in it). With block["trace"] it waits for its context, as a
// probe out waits for its answer, and records its cleanup.
func (f *fakeSource) Trace(ctx context.Context, r lab.TraceRequest) (trace.Journey, string, error) {
	var j trace.Journey
	if err := f.record("Trace %+v %s %s %d", r.Src, r.Dst, r.Proto, r.Port); err != nil {
		return j, "", err
	}
	f.mu.Lock()
	block := f.block["trace"]
	f.mu.Unlock()
	if block {
		<-ctx.Done()
		f.record("Trace cleaned up")
		return j, "", ctx.Err()
	}
	file, title := "testdata/trace-journey.json", "kinn trace pod default/client -> Service default/web 10.96.1.1:80/TCP (TCP)"
	if strings.Contains(r.Dst, "255") {
		file, title = "testdata/trace-dropped.json", "kinn trace pod default/client -> 10.96.255.254 (TCP)"
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return j, "", err
	}
	return j, title, json.Unmarshal(raw, &j)
}
