package trace

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"kinn.dev/kinn/lab/proxy"
	"kinn.dev/kinn/lab/service"
)

// header builds an IPv4 + TCP header pair as trace events carry them.
func header(src, dst string, dscp, ttl uint8, id uint16, sport, dport uint16, flags uint8) (network, transport []byte) {
	network = make([]byte, 20)
	network[0], network[1] = 0x45, dscp<<2
	binary.BigEndian.PutUint16(network[2:], 60)
	binary.BigEndian.PutUint16(network[4:], id)
	network[8], network[9] = ttl, 6
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(network[12:], s[:])
	copy(network[16:], d[:])
	transport = make([]byte, 20)
	binary.BigEndian.PutUint16(transport[0:], sport)
	binary.BigEndian.PutUint16(transport[2:], dport)
	transport[13] = flags
	return network, transport
}

func TestParsePacket(t *testing.T) {
	n, tr := header("10.244.2.2", "10.96.0.10", 0x2d, 63, 7, 40000, 80, 0x02)
	p := ParsePacket(n, tr)
	want := Packet{Src: netip.MustParseAddr("10.244.2.2"), Dst: netip.MustParseAddr("10.96.0.10"), Proto: 6, TTL: 63, IPID: 7, Length: 60,
		DSCP: 0x2d, SPort: 40000, DPort: 80, TCPFlags: 2, HasHeaders: true}
	if p != want {
		t.Errorf("ParsePacket = %+v, want %+v", p, want)
	}
	if ParsePacket([]byte{0x60, 0}, nil).HasHeaders {
		t.Error("an IPv6 or short header parsed as IPv4")
	}
}

// emptyPort is a Service port without endpoints: its ClusterIP is rejected.
var emptyPort = service.Port{Namespace: "default", Service: "empty", Protocol: "TCP", ClusterIP: netip.MustParseAddr("10.96.0.20"), Port: 80}

var webPort = service.Port{Namespace: "default", Service: "web", Protocol: "TCP", ClusterIP: netip.MustParseAddr("10.96.0.10"), Port: 80,
	Endpoints: []service.Endpoint{{Namespace: "default", Pod: "web-1", Node: "w1", IP: netip.MustParseAddr("10.244.1.3"), Port: 8080, Ready: true, Serving: true}}}

func testNode() proxy.Node {
	return proxy.Node{Name: "w2", IPs: []netip.Addr{netip.MustParseAddr("172.18.0.4")},
		PodCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.0.0/16")}, ServiceCIDRs: []netip.Prefix{netip.MustParsePrefix("10.96.0.0/16")}}
}

// kernelHandles numbers a ruleset's rules as the kernel would: one handle
// per rule, in chain order.
func kernelHandles(rs *proxy.Ruleset) map[string][]uint64 {
	out := map[string][]uint64{}
	h := uint64(10)
	for _, c := range rs.Chains {
		for range c.Rules {
			out[c.Name] = append(out[c.Name], h)
			h++
		}
	}
	return out
}

func handleOf(t *testing.T, rules map[RuleKey]RuleInfo, chain string, index int) uint64 {
	t.Helper()
	for k, ri := range rules {
		if k.Chain == chain && ri.Index == index {
			return k.Handle
		}
	}
	t.Fatalf("no rule %d in chain %s", index, chain)
	return 0
}

func TestMapRulesAndOwners(t *testing.T) {
	ports := []service.Port{webPort, emptyPort}
	rs := proxy.Build(testNode(), ports)
	handles := kernelHandles(rs)
	rules := MapRules(rs, handles, ChainOwners(ports), true)
	ep := proxy.EndpointChain(proxy.PortID(webPort), webPort.Endpoints[0])
	ri := rules[RuleKey{ep, handles[ep][len(handles[ep])-1]}]
	if ri.Owner == nil || *ri.Owner != (Owner{Kind: "Pod", Namespace: "default", Name: "web-1"}) || !strings.Contains(ri.Rule.String(), "dnat to 10.244.1.3:8080") {
		t.Errorf("the endpoint chain's last rule maps to %+v (owner %v), want the DNAT of pod default/web-1", ri, ri.Owner)
	}
	svc := proxy.ClusterChain(proxy.PortID(webPort))
	if o := rules[RuleKey{svc, handles[svc][0]}].Owner; o == nil || o.Name != "web" || o.Kind != "Service" {
		t.Errorf("the Service chain's rule is owned by %v, want Service default/web", o)
	}
	// A chain edited by hand (one rule more in the kernel) is not guessed at.
	handles[svc] = append(handles[svc], 999)
	for k := range MapRules(rs, handles, ChainOwners(ports), true) {
		if k.Chain == svc {
			t.Fatalf("rule %v of an edited chain was mapped", k)
		}
	}
}

// TestExplainRejected: a probe to a Service without endpoints, as the
// kernel reports it: the source pod's marking, the node's rules down to
// the reject (later events of a hook without headers), the ICMP error back.
func TestExplainRejected(t *testing.T) {
	ports := []service.Port{webPort, emptyPort}
	rs := proxy.Build(testNode(), ports)
	rules := MapRules(rs, kernelHandles(rs), ChainOwners(ports), true)
	const pod, node = "kinn.l.pod.default.client", "kinn.l.node.w2"
	at := time.Unix(0, 0)
	var evs []Event
	add := func(ns string, id uint32, table, chain string, handle uint64, v Verdict, target string, pkt []byte, tr []byte) {
		at = at.Add(time.Microsecond)
		evs = append(evs, Event{Netns: ns, Seq: len(evs), At: at, ID: id, Table: table, Chain: chain, Handle: handle, Type: EventRule,
			Verdict: v, Target: target, Policy: VerdictContinue, Packet: ParsePacket(pkt, tr)})
	}
	req, reqT := header("10.244.2.2", "10.96.0.20", 0x2d, 64, 9, 40000, 80, 0x02)
	icmp, _ := header("10.244.2.1", "10.244.2.2", 0, 64, 0, 0, 0, 0)
	icmp[9] = 1
	add(pod, 1, "kinn-trace-1", "output", 5, VerdictContinue, "", req, reqT)
	add(node, 2, "kinn-trace-1", "prerouting", 3, VerdictContinue, "", req, reqT)
	add(node, 2, proxy.TableName, "nat-prerouting", handleOf(t, rules, "nat-prerouting", 0), VerdictJump, proxy.ChainServices, req, reqT)
	add(node, 3, proxy.TableName, "filter-forward", handleOf(t, rules, "filter-forward", 0), VerdictJump, proxy.ChainEndpointsCheck, req, reqT)
	add(node, 3, proxy.TableName, proxy.ChainEndpointsCheck, handleOf(t, rules, proxy.ChainEndpointsCheck, 0), VerdictGoto, proxy.ChainReject, nil, nil)
	add(node, 3, proxy.TableName, proxy.ChainReject, handleOf(t, rules, proxy.ChainReject, 0), VerdictDrop, "", nil, nil)
	add(node, 4, "kinn-trace-1", "output", 4, VerdictContinue, "", icmp, nil)
	add(pod, 5, "kinn-trace-1", "prerouting", 4, VerdictContinue, "", icmp, nil)

	in := Input{
		Probe: ProbeResult{Proto: "tcp", Src: netip.MustParseAddrPort("10.244.2.2:40000"), Dst: netip.MustParseAddrPort("10.96.0.20:80"),
			Outcome: Refused, Error: "connection refused"},
		DSCP: 0x2d, Src: pod, Service: &Owner{Kind: "Service", Namespace: "default", Name: "empty"},
		Places: map[string]Place{pod: {Netns: pod, Node: "w2", Pod: "default/client", What: "pod"}, node: {Netns: node, Node: "w2", What: "node"}},
		Events: evs, Rules: map[string]map[RuleKey]RuleInfo{node: rules}, Hooks: HooksOf(rs),
		Routes: map[string]Route{pod: {Dst: netip.MustParseAddr("10.96.0.20"), Dev: "eth0", Gw: netip.MustParseAddr("10.244.2.1")}},
	}
	j := Explain(in)
	if j.Verdict != RefusedV {
		t.Fatalf("verdict %q, want refused", j.Verdict)
	}
	if len(j.Request) == 0 || j.Request[0].Pod != "default/client" || j.Request[0].Component != CompRoute {
		t.Errorf("the request does not start with the client's route: %+v", j.Request)
	}
	last := j.Request[len(j.Request)-1]
	if last.Component != CompDrop || last.Owner == nil || last.Owner.Name != "empty" || !strings.Contains(last.Action, "no ready endpoints") {
		t.Errorf("the request ends with %+v, want the reject of Service default/empty", last)
	}
	if !strings.Contains(j.Summary, "Service default/empty") || !strings.Contains(j.Summary, "w2") {
		t.Errorf("summary %q names neither the Service nor the node", j.Summary)
	}
	for _, h := range append(j.Request, j.Reply...) {
		if strings.Contains(h.Action, "kinn-trace") {
			t.Errorf("the trace table's own rules are in the journey: %+v", h)
		}
	}

	var text bytes.Buffer
	WriteText(&text, "kinn trace client -> svc/empty", j, true)
	for _, want := range []string{" 1 pod default/client on w2", " 2 node w2", "✗ drop", "✗ REFUSED", "[Service default/empty]", "counter reject"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	var js bytes.Buffer
	if err := WriteJSON(&js, j); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	json.Unmarshal(js.Bytes(), &doc)
	hop := doc["request"].([]any)[0].(map[string]any)
	for _, k := range []string{"namespace", "node", "pod", "component", "action", "detail", "rule"} {
		if _, ok := hop[k]; !ok {
			t.Errorf("JSON hop lacks %q: %v", k, hop)
		}
	}
	if doc["verdict"] != "refused" || doc["reply"] == nil {
		t.Errorf("JSON journey %v lacks its verdict or reply", doc)
	}
}

// TestOrderAcrossNamespaces: the request goes from the source to its node,
// the other node, then the destination pod, whatever order the listeners
// delivered the events in; the reply the other way.
func TestOrderAcrossNamespaces(t *testing.T) {
	places := map[string]Place{
		"src": {What: "pod", Node: "a", Pod: "x/src"}, "a": {What: "node", Node: "a"},
		"b": {What: "node", Node: "b"}, "dst": {What: "pod", Node: "b", Pod: "x/dst"},
	}
	req, reqT := header("10.244.1.2", "10.244.2.2", 0x2d, 64, 1, 1, 80, 2)
	rep, repT := header("10.244.2.2", "10.244.1.2", 0, 64, 0, 80, 1, 0x12)
	var evs []Event
	for i, ns := range []string{"dst", "b", "a", "src"} { // delivered backwards
		evs = append(evs, Event{Netns: ns, Seq: i, Table: "kinn-trace-1", Chain: "prerouting", Type: EventRule, Packet: ParsePacket(req, reqT)})
		evs = append(evs, Event{Netns: ns, Seq: i, Table: "kinn-trace-1", Chain: "prerouting", Type: EventRule, Packet: ParsePacket(rep, repT)})
	}
	routes := map[string]Route{}
	for ns := range places {
		routes[ns] = Route{Dev: "eth0", Dst: netip.MustParseAddr("10.244.2.2")}
	}
	j := Explain(Input{Probe: ProbeResult{Outcome: Answered, Proto: "tcp"}, DSCP: 0x2d, Src: "src", Places: places, Events: evs, Routes: routes, Back: routes})
	order := func(hops []Hop) string {
		var out []string
		for _, h := range hops {
			if len(out) == 0 || out[len(out)-1] != h.Namespace {
				out = append(out, h.Namespace)
			}
		}
		return strings.Join(out, " ")
	}
	if got := order(j.Request); got != "src a b dst" {
		t.Errorf("request order %q, want src a b dst", got)
	}
	if got := order(j.Reply); got != "dst b a src" {
		t.Errorf("reply order %q, want dst b a src", got)
	}
}
