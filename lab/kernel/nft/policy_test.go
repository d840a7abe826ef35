package nft

import (
	"errors"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"kinn.dev/kinn/lab/proxy"
	"kinn.dev/kinn/lab/service"
)

// NetworkPolicy building blocks against the kernel: rules made of the new
// expressions, loaded with kinn's own encoder into the fixture's node,
// judge real packets from ext (routed through the node, so forward sees
// them) to the pods as the sets' elements say.

const (
	peerExt   = 0x11 // the peer group ext belongs to
	peerOther = 0x99 // a group ext does not belong to
	peerCIDR  = 0x22 // an ipBlock 192.168.50.0/24 except ext
	portName  = 0x5  // named port "serve-8080-tcp"
	logGroup  = 100
	acceptBit = 3
)

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

// policyRuleset: p1 admits TCP 8080 from peer group peerExt; p2 admits
// UDP 8000-8100 from the ipBlock group; p3 admits TCP on its named port;
// each pod drops the rest. Ext is in peerExt; the ipBlock excepts it.
func policyRuleset() *proxy.Ruleset {
	logged := func(prefix string, v proxy.Verdict, pre ...proxy.Expr) proxy.Rule {
		return proxy.Rule{Exprs: append(pre, proxy.Log{Group: logGroup, Prefix: prefix}, v)}
	}
	accept, drop := proxy.Verdict{Kind: proxy.Accept}, proxy.Verdict{Kind: proxy.Drop}
	tcp, udp := proxy.L4Proto{Proto: service.TCP}, proxy.L4Proto{Proto: service.UDP}
	goTo := func(c string) proxy.Verdict { return proxy.Verdict{Kind: proxy.Goto, Chain: c} }
	return &proxy.Ruleset{
		Maps: []*proxy.Map{
			{Name: "in-pods", Key: proxy.KeyAddrVerdict, Elems: []proxy.Elem{
				{Key: proxy.Key{Addr: addr(pods["p1"])}, Verdict: goTo("pod-p1-in")},
				{Key: proxy.Key{Addr: addr(pods["p2"])}, Verdict: goTo("pod-p2-in")},
				{Key: proxy.Key{Addr: addr(pods["p3"])}, Verdict: goTo("pod-p3-in")},
			}},
			{Name: "named-ports", Key: proxy.KeyNamedPort, Elems: []proxy.Elem{
				{Key: proxy.Key{Addr: addr(pods["p3"]), Proto: service.TCP, Port: 8080, Group: portName}},
			}},
			{Name: "peer-cidrs", Key: proxy.KeyRangeGroup, Elems: []proxy.Elem{
				{Key: proxy.Key{Addr: addr("192.168.50.0"), Last: addr("192.168.50.1"), Group: peerCIDR}},
				{Key: proxy.Key{Addr: addr("192.168.50.3"), Last: addr("192.168.50.255"), Group: peerCIDR}},
			}},
			{Name: "peer-pods", Key: proxy.KeyAddrGroup, Elems: []proxy.Elem{
				{Key: proxy.Key{Addr: addr(extIP), Group: peerExt}},
			}},
		},
		Chains: []*proxy.Chain{
			{Name: "ingress", Hook: &proxy.Hook{Type: "filter", Hook: "forward", Priority: 0}, Rules: []proxy.Rule{
				{Exprs: []proxy.Expr{proxy.CtState{State: "established,related"}, accept}},
				{Exprs: []proxy.Expr{proxy.Vmap{Key: proxy.KeyAddrVerdict, Map: "in-pods"}}},
			}},
			{Name: "pod-p1-in", Rules: []proxy.Rule{
				{Exprs: []proxy.Expr{proxy.AddrGroupIn{Source: true, Group: peerExt, Set: "peer-pods"}, tcp, proxy.Dport{First: 8080, Last: 8080},
					proxy.Log{Group: logGroup, Prefix: "np A I p1"}, proxy.CtLabelSet{Bit: acceptBit}, accept}},
				logged("np D I p1", drop),
			}},
			{Name: "pod-p2-in", Rules: []proxy.Rule{
				{Exprs: []proxy.Expr{udp, proxy.Dport{First: 8000, Last: 8100}, proxy.AddrGroupIn{Source: true, Group: peerCIDR, Set: "peer-cidrs"}, accept}},
				{Exprs: []proxy.Expr{drop}},
			}},
			{Name: "pod-p3-in", Rules: []proxy.Rule{
				{Exprs: []proxy.Expr{tcp, proxy.NamedPortIn{Name: portName, Set: "named-ports"}, accept}},
				{Exprs: []proxy.Expr{drop}},
			}},
		},
	}
}

const dropWait = 400 * time.Millisecond

// reaches reports whether ext gets an answer from pod on proto :8080.
func (f *fixture) reaches(pod string, proto service.Protocol) bool {
	f.t.Helper()
	to := pods[pod] + ":8080"
	var a answer
	var err error
	if proto == service.UDP {
		a, err = f.udp("ext", to, 0, dropWait)
	} else {
		a, err = f.tcp("ext", to, dropWait)
	}
	if err != nil {
		if !errors.Is(err, os.ErrDeadlineExceeded) && !strings.Contains(err.Error(), "timeout") {
			f.t.Fatalf("ext to %s %s: %v (want an answer or silence)", pod, proto, err)
		}
		return false
	}
	if a.pod != pod || a.client != extIP {
		f.t.Fatalf("ext to %s %s answered by %+v", pod, proto, a)
	}
	return true
}

type probe struct {
	pod   string
	proto service.Protocol
	want  bool
}

func (f *fixture) expect(when string, probes ...probe) {
	f.t.Helper()
	for _, p := range probes {
		if got := f.reaches(p.pod, p.proto); got != p.want {
			f.t.Errorf("%s: ext to %s %s reached %v, want %v", when, p.pod, p.proto, got, p.want)
		}
	}
}

// TestConcatImmediateLookup is the design note's first kernel test: a
// lookup of `packet field . constant id` loads and matches, in an exact
// set, an interval set and a four-field named-port set, and only for the
// id in the rule. Changing elements alone (no rule) flips the verdicts.
func TestConcatImmediateLookup(t *testing.T) {
	f := newFixture(t)
	rs := policyRuleset()
	if err := f.table.Load(rs); err != nil {
		t.Fatal(err)
	}
	f.expect("loaded",
		probe{"p1", service.TCP, true},  // ext . 0x11 in peer-pods, tcp 8080
		probe{"p1", service.UDP, false}, // tcp only
		probe{"p2", service.UDP, false}, // ext excepted from the ipBlock
		probe{"p3", service.TCP, true},  // p3 . tcp . 8080 . 0x5 in named-ports
		probe{"p3", service.UDP, false}, // not the named port's protocol
	)
	next := policyRuleset()
	next.Map("peer-pods").Elems[0].Key.Group = peerOther
	next.Map("peer-cidrs").Elems = []proxy.Elem{{Key: proxy.Key{Addr: addr("192.168.50.0"), Last: addr("192.168.50.255"), Group: peerCIDR}}}
	next.Map("named-ports").Elems[0].Key.Group = portName + 1
	ops := proxy.Diff(rs, next)
	for _, op := range ops {
		if op.Kind != proxy.OpAddElems && op.Kind != proxy.OpDelElems {
			t.Fatalf("element changes made %s", op)
		}
	}
	if err := f.table.Apply(ops); err != nil {
		t.Fatal(err)
	}
	f.expect("elements changed",
		probe{"p1", service.TCP, false}, // ext is in another group now
		probe{"p2", service.UDP, true},  // the whole /24
		probe{"p3", service.TCP, false}, // another port name
	)
}

// TestPolicyPortRange: `th dport 8000-8100` admits 8080, a range beside
// it does not.
func TestPolicyPortRange(t *testing.T) {
	f := newFixture(t)
	rs := policyRuleset()
	rs.Map("peer-cidrs").Elems = []proxy.Elem{{Key: proxy.Key{Addr: addr("192.168.50.0"), Last: addr("192.168.50.255"), Group: peerCIDR}}}
	if err := f.table.Load(rs); err != nil {
		t.Fatal(err)
	}
	f.expect("8000-8100", probe{"p2", service.UDP, true})
	rs.Chain("pod-p2-in").Rules[0].Exprs[1] = proxy.Dport{First: 8081, Last: 8100}
	if err := f.table.Load(rs); err != nil {
		t.Fatal(err)
	}
	f.expect("8081-8100", probe{"p2", service.UDP, false})
}
