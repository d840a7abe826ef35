package trace

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"kinn.dev/kinn/lab/proxy"
	"kinn.dev/kinn/lab/service"
)

// TestPickWords: the rule of a Service's chain that sent the probe to an
// endpoint says how it was chosen: at random among the ready endpoints
// (1 of N), the only one, or by session affinity.
func TestPickWords(t *testing.T) {
	three := webPort
	three.Endpoints = nil
	for i, ip := range []string{"10.244.1.3", "10.244.1.4", "10.244.2.3"} {
		three.Endpoints = append(three.Endpoints, service.Endpoint{Namespace: "default", Pod: "web-" + string(rune('a'+i)),
			IP: netip.MustParseAddr(ip), Port: 8080, Ready: true, Serving: true})
	}
	sticky := three
	sticky.Service, sticky.ClusterIP, sticky.Affinity = "sticky", netip.MustParseAddr("10.96.0.30"), 3*time.Hour
	for _, c := range []struct {
		name  string
		port  service.Port
		words []string // one per rule of the Service's chain that picks
	}{
		{"three endpoints", three, []string{"(1 of 3)", "(1 of 3)", "(1 of 3)"}},
		{"one endpoint", webPort, []string{"the only endpoint"}},
		{"affinity", sticky, []string{"session affinity", "session affinity", "session affinity", "(1 of 3)", "(1 of 3)", "(1 of 3)"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ports := []service.Port{c.port}
			rs := proxy.Build(testNode(), ports)
			rules := MapRules(rs, kernelHandles(rs), ChainOwners(ports), true)
			chain := proxy.ClusterChain(proxy.PortID(c.port))
			var got []string
			for k, ri := range rules {
				if k.Chain != chain || !isChoice(ri.Rule, ChainOwners(ports)) {
					continue
				}
				got = append(got, pickWords(ri))
			}
			if len(got) != len(c.words) {
				t.Fatalf("%d rules pick an endpoint in %s, want %d", len(got), chain, len(c.words))
			}
			for _, w := range c.words {
				i := -1
				for j, g := range got {
					if strings.Contains(g, w) {
						i = j
						break
					}
				}
				if i < 0 {
					t.Fatalf("no pick says %q: %q", w, got)
				}
				got = append(got[:i], got[i+1:]...)
			}
		})
	}
}

// TestRejectByWhichCheck: kube-proxy's reject chain is reached from two
// checks, and only one of them means "no ready endpoints": a port the
// Service does not have at its ClusterIP (or ICMP to it) is rejected by
// cluster-ips-check, whatever its endpoints.
func TestRejectByWhichCheck(t *testing.T) {
	ports := []service.Port{webPort}
	rs := proxy.Build(testNode(), ports)
	rules := MapRules(rs, kernelHandles(rs), ChainOwners(ports), true)
	const node = "n"
	for _, c := range []struct{ from, want string }{
		{proxy.ChainClusterIPsCheck, "no port of the Service"},
		{proxy.ChainEndpointsCheck, "no ready endpoints"},
	} {
		var evs []Event
		add := func(chain string, handle uint64, v Verdict, target string, pkt, tr []byte) {
			evs = append(evs, Event{Netns: node, Seq: len(evs), ID: 1, Table: proxy.TableName, Chain: chain, Handle: handle, Type: EventRule,
				Verdict: v, Target: target, Policy: VerdictContinue, Packet: ParsePacket(pkt, tr)})
		}
		req, reqT := header("10.244.2.2", "10.96.0.10", 0x2d, 64, 9, 40000, 81, 0x02)
		add("filter-forward", handleOf(t, rules, "filter-forward", 0), VerdictJump, c.from, req, reqT)
		add(c.from, handleOf(t, rules, c.from, 0), VerdictGoto, proxy.ChainReject, nil, nil)
		add(proxy.ChainReject, handleOf(t, rules, proxy.ChainReject, 0), VerdictDrop, "", nil, nil)
		j := Explain(Input{Probe: ProbeResult{Proto: "tcp", Outcome: Refused, Error: "connection refused"}, DSCP: 0x2d, Src: node,
			Places: map[string]Place{node: {Netns: node, Node: "w2", What: "node"}}, Events: evs,
			Rules: map[string]map[RuleKey]RuleInfo{node: rules}, Hooks: HooksOf(rs)})
		last := lastWord(j.Request)
		if last == nil || last.Component != CompDrop || !strings.Contains(last.Action, c.want) {
			t.Errorf("reject reached from %s: %+v, want %q", c.from, last, c.want)
		}
	}
}
