package cli_test

import (
	"context"
	"encoding/json"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"kinn.dev/kinn/lab"
	"kinn.dev/kinn/tui"
)

// TestLiveSource drives the terminal UI's data source against a real lab:
// requests sent through it reach several backends and then show in the
// Traffic rates, the Flows and the Rules counters; scaling through it
// changes the pods.
func TestLiveSource(t *testing.T) {
	e := newEnv(t, "live")
	e.up("")
	ctx := context.Background()
	src := tui.NewLive(lab.Options{StateRoot: e.dirs[1], RuntimeRoot: e.dirs[3]}, e.name)
	defer src.Close()
	snap, err := src.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Nodes) != 3 || len(snap.Pods) != 4+2 || len(snap.Services) != 2+2 { // + DNS pods, kubernetes and kube-dns
		t.Fatalf("snapshot: %d nodes, %d pods, %d services", len(snap.Nodes), len(snap.Pods), len(snap.Services))
	}
	var clientNode string
	for _, p := range snap.Pods {
		if p.Name == "client" {
			clientNode = p.Node
		}
	}
	rulesBefore, err := src.Rules(ctx, clientNode)
	if err != nil {
		t.Fatal(err)
	}
	src.Rates(ctx) // the first sample: rates need two
	got, err := src.SendRequests(ctx, "default/client", "default/web", 20)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) < 2 {
		t.Errorf("20 requests reached %v; want at least 2 backends", got)
	}
	rates, err := src.Rates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	moved := false
	for _, r := range rates {
		moved = moved || (r.Name == "default/client" && r.TxBps > 0 && len(r.History) == 2)
	}
	if !moved {
		t.Errorf("the client's traffic does not show in the rates: %+v", rates)
	}
	// Through the tunnel, by node pair: more requests, then a sample after
	// the tracker's next byte-count refresh.
	src.SendRequests(ctx, "default/client", "default/web", 20)
	time.Sleep(2500 * time.Millisecond)
	rates, _ = src.Rates(ctx)
	tunnel := false
	for _, r := range rates {
		tunnel = tunnel || (r.Kind == "tunnel" && r.Node == clientNode && r.TxBps > 0 && r.RxBps > 0)
	}
	if !tunnel {
		t.Errorf("no tunnel rate from %s to another node: %+v", clientNode, rates)
	}
	flows, err := src.Flows(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen := false
	for _, f := range flows {
		seen = seen || (f.SvcName == "default/web" && f.Endpoint != "")
	}
	if !seen {
		t.Errorf("no flow to default/web with its chosen endpoint among %d", len(flows))
	}
	rulesAfter, err := src.Rules(ctx, clientNode)
	if err != nil {
		t.Fatal(err)
	}
	if conns(rulesAfter, "default/web") < conns(rulesBefore, "default/web")+20 {
		t.Errorf("the web Service's counters grew by %d, want 20", conns(rulesAfter, "default/web")-conns(rulesBefore, "default/web"))
	}
	// Each port gets what it speaks: DNS to kube-dns, TLS to kubernetes.
	for svc, want := range map[string]string{"kube-system/kube-dns": "DNS kubernetes.default.svc.cluster.local = 10.96.0.1",
		"default/kubernetes": "kube-apiserver (TLS) /healthz ok"} {
		if got, err := src.SendRequests(ctx, "default/client", svc, 3); err != nil || got[want] != 3 {
			t.Errorf("3 requests to %s: %v, %v; want %q 3", svc, got, err, want)
		}
	}
	// The pod view's text (a stub until kinn describe's lands).
	if text, err := src.Describe(ctx, "default", "client"); err != nil || !strings.Contains(text, "client") {
		t.Errorf("describe default/client: %q, %v", text, err)
	}
	if snap.Nodes[0].Gateway == "" {
		t.Errorf("the snapshot's nodes have no bridge address: %+v", snap.Nodes[0])
	}
	if err := src.Scale(ctx, "default", "web", 1); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	snap, _ = src.Snapshot(ctx)
	if len(snap.Pods) != 2+2 {
		t.Errorf("after scaling web to 1 through the UI's source: %d pods, want 4 (client, web, 2 DNS)", len(snap.Pods))
	}
}

// conns sums a Service's endpoint counters on one node.
func conns(v *lab.RulesView, svc string) uint64 {
	var n uint64
	for _, f := range v.Services {
		if f.Service == svc && f.Kind == "ClusterIP" {
			for _, e := range f.Endpoints {
				n += e.Packets
			}
		}
	}
	return n
}

// tmuxScreen runs kinn tui in a detached tmux session and reads its screen.
type tmuxScreen struct {
	t    *testing.T
	name string
}

func startTUI(t *testing.T, e *env) *tmuxScreen {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("skipping: needs tmux")
	}
	s := &tmuxScreen{t: t, name: e.name}
	cmd := strings.Join(append([]string{kinnBin}, append(e.dirs, "tui", "--name", e.name)...), " ")
	if out, err := exec.Command("tmux", "new-session", "-d", "-s", s.name, "-x", "160", "-y", "50", cmd).CombinedOutput(); err != nil {
		t.Fatalf("tmux: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("tmux", "kill-session", "-t", s.name).Run() })
	return s
}

func (s *tmuxScreen) keys(keys ...string) {
	for _, k := range keys {
		exec.Command("tmux", "send-keys", "-t", s.name, k).Run()
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *tmuxScreen) screen() string {
	out, _ := exec.Command("tmux", "capture-pane", "-t", s.name, "-p").Output()
	return string(out)
}

// waitFor polls the screen until ok says yes, or fails after 10 s.
func (s *tmuxScreen) waitFor(what string, ok func(string) bool) string {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		scr := s.screen()
		if ok(scr) {
			return scr
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the screen never showed %s:\n%s", what, scr)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// webCount sums the connection counters of the web Service's endpoint
// chains on the Rules screen.
func webCount(scr string) int {
	n := 0
	for _, l := range strings.Split(scr, "\n") {
		if f := strings.Fields(l); len(f) > 2 && strings.Contains(l, "ep-default/web/80/tcp") {
			v, _ := strconv.Atoi(strings.TrimPrefix(f[len(f)-2], "↑"))
			n += v
		}
	}
	return n
}

// TestTUIInTmux runs the real binary in tmux against a real lab: the screen
// shows the lab's nodes, pods and services, and traffic sent from the UI
// makes the Rules screen's counters grow.
func TestTUIInTmux(t *testing.T) {
	e := newEnv(t, "tui")
	e.up("")
	s := startTUI(t, e)
	s.waitFor("the nodes, pods and services", func(scr string) bool {
		return strings.Contains(scr, "kinn-control-plane") && strings.Contains(scr, "client") && strings.Contains(scr, "web-nodeport")
	})
	var clientNode string
	for _, p := range e.pods() {
		if p.Name == "client" {
			clientNode = p.Spec.NodeName
		}
	}
	// The Rules screen of the client's node, before.
	s.keys("4")
	rules := func(scr string) bool {
		return strings.Contains(scr, "NODE "+clientNode) && strings.Contains(scr, "ep-default/web/80/tcp")
	}
	for i := 0; i < 3 && !rules(s.screen()); i++ {
		s.keys("n")
		time.Sleep(1200 * time.Millisecond)
	}
	before := webCount(s.waitFor("the client's node's rules", rules))
	// Send 20 requests from the client pod to the web Service.
	s.keys("1", "/")
	for _, c := range "client" {
		s.keys(string(c))
	}
	s.keys("Enter")
	s.waitFor("the client pod selected", func(scr string) bool { return strings.Contains(scr, "> ") && strings.Contains(scr, "client") })
	s.keys("s")
	s.waitFor("the send prompt", func(scr string) bool { return strings.Contains(scr, "SEND REQUESTS from default/client") })
	s.keys("Enter")
	s.waitFor("the answer", func(scr string) bool { return strings.Contains(scr, "default/client -> default/web") })
	s.esc()
	s.keys("4")
	after := s.waitFor("the counters grown", func(scr string) bool { return rules(scr) && webCount(scr) >= before+20 })
	if !strings.Contains(after, "↑") {
		t.Errorf("grown counters are not highlighted:\n%s", after)
	}
	// Scale web down by one from the UI: on the Rules screen an endpoint is
	// marked removed ("-", shown for a few seconds before it goes).
	removed := func(scr string) bool {
		for _, l := range strings.Split(scr, "\n") {
			if f := strings.Fields(strings.TrimPrefix(l, ">")); len(f) > 1 && f[0] == "-" && strings.Contains(l, "ep-default/web/80/tcp/") {
				return true
			}
		}
		return false
	}
	s.keys("1", "/", "Escape")
	s.keys("/")
	for _, c := range "web-" {
		s.keys(string(c))
	}
	s.keys("Enter")
	s.waitFor("a web pod selected", func(scr string) bool { return strings.Contains(scr, "> ") && strings.Contains(scr, "web-") })
	s.keys("-")
	s.waitFor("the scale done", func(scr string) bool { return strings.Contains(scr, "scaled") || strings.Contains(scr, "replicas") })
	s.esc()
	s.keys("4")
	start := time.Now()
	s.waitFor("an endpoint marked removed on the Rules screen", func(scr string) bool { return rules(scr) && removed(scr) })
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the Rules screen took %v to show the scale", d)
	}
	// Flows by name; enter on the web-nodeport Service drills in.
	s.keys("3")
	s.waitFor("the client's flows by name", func(scr string) bool {
		return strings.Contains(scr, "client:") && strings.Contains(scr, "-> web:80") && strings.Contains(scr, "=> web-")
	})
	s.keys("1", "/", "Escape", "/")
	for _, c := range "web-nodeport" {
		s.keys(string(c))
	}
	s.keys("Enter", "Enter")
	s.waitFor("the NodePort Service's view", func(scr string) bool {
		return strings.Contains(scr, "SERVICE default/web-nodeport") && strings.Contains(scr, "endpoint counters are shared with ClusterIP") &&
			strings.Contains(scr, "ENDPOINTS")
	})
	s.keys("Escape")
	s.waitFor("the list again", func(scr string) bool { return strings.Contains(scr, "SERVICES (") })
}

// TestCNILog: every CNI call the lab made is logged with the pod, the
// environment, the configuration and the result; a pod's filter works.
func TestCNILog(t *testing.T) {
	e := newEnv(t, "cnilog")
	e.up("")
	var calls []struct {
		Pod, Command string
		Env          map[string]string
		Result       struct{ IPs []struct{ Address string } }
	}
	if err := json.Unmarshal([]byte(e.must("cni", "log", "--name", e.name, "-o", "json")), &calls); err != nil {
		t.Fatal(err)
	}
	adds := map[string]string{}
	for _, c := range calls {
		if c.Command == "ADD" && len(c.Result.IPs) == 1 && c.Env["CNI_NETNS"] != "" {
			adds[c.Pod] = c.Result.IPs[0].Address
		}
	}
	for _, p := range e.pods() {
		if ip := adds[p.Namespace+"/"+p.Name]; !strings.HasPrefix(ip, p.Status.PodIP+"/") {
			t.Errorf("pod %s/%s: logged ADD result %q, want its address %s", p.Namespace, p.Name, ip, p.Status.PodIP)
		}
	}
	out := e.must("cni", "log", "--name", e.name, "client")
	if !strings.Contains(out, "default/client") || strings.Contains(out, "default/web-") {
		t.Errorf("kinn cni log client shows other pods' calls:\n%s", out)
	}
}
