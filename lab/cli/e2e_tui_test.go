package cli_test

import (
	"context"
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
	snap, err := src.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Nodes) != 3 || len(snap.Pods) != 4 || len(snap.Services) != 2 {
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
	flows, err := src.Flows(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen := false
	for _, f := range flows {
		seen = seen || (strings.HasPrefix(f.Service, "default/web ") && f.Endpoint != "")
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
	if err := src.Scale(ctx, "default", "web", 1); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	snap, _ = src.Snapshot(ctx)
	if len(snap.Pods) != 2 {
		t.Errorf("after scaling web to 1 through the UI's source: %d pods, want 2", len(snap.Pods))
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
