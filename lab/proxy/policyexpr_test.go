package proxy

import (
	"net/netip"
	"testing"

	"kinn.dev/kinn/lab/service"
)

func TestPolicyExprString(t *testing.T) {
	for _, c := range []struct {
		e    Expr
		want string
	}{
		{Log{Group: 100, Prefix: "np A I 3"}, `log prefix "np A I 3" group 100`},
		{CtLabelSet{Bit: 32}, "ct label set 32"},
		{CtLabel{Bit: 127}, "ct label 127"},
		{CtState{State: "established,related"}, "ct state established,related"},
		{Dport{First: 80, Last: 80}, "th dport 80"},
		{Dport{First: 8000, Last: 8100}, "th dport 8000-8100"},
		{AddrGroupIn{Source: true, Group: 0x11, Set: "peer-pods"}, "ip saddr . 0x00000011 @peer-pods"},
		{AddrGroupIn{Group: 0x11, Set: "peer-cidrs"}, "ip daddr . 0x00000011 @peer-cidrs"},
		{NamedPortIn{Name: 5, Set: "named-ports"}, "ip daddr . meta l4proto . th dport . 0x00000005 @named-ports"},
		{Vmap{Key: KeyAddrVerdict, Source: true, Map: "eg-pods"}, "ip saddr vmap @eg-pods"},
		{Vmap{Key: KeyAddrVerdict, Map: "in-pods"}, "ip daddr vmap @in-pods"},
	} {
		if got := c.e.String(); got != c.want {
			t.Errorf("%#v: %q, want %q", c.e, got, c.want)
		}
	}
}

func TestPolicyKeyString(t *testing.T) {
	a := netip.MustParseAddr
	for _, c := range []struct {
		kind KeyKind
		k    Key
		want string
	}{
		{KeyAddrGroup, Key{Addr: a("10.244.1.5"), Group: 0x11}, "10.244.1.5 . 0x00000011"},
		{KeyRangeGroup, Key{Addr: a("10.0.0.0"), Last: a("10.255.255.255"), Group: 2}, "10.0.0.0/8 . 0x00000002"},
		{KeyRangeGroup, Key{Addr: a("10.1.2.4"), Last: a("10.1.2.4"), Group: 2}, "10.1.2.4 . 0x00000002"},
		{KeyRangeGroup, Key{Addr: a("10.1.2.4"), Last: a("10.1.2.7"), Group: 2}, "10.1.2.4/30 . 0x00000002"},
		{KeyRangeGroup, Key{Addr: a("10.1.2.4"), Last: a("10.1.2.8"), Group: 2}, "10.1.2.4-10.1.2.8 . 0x00000002"},
		{KeyRangeGroup, Key{Addr: a("10.1.2.3"), Last: a("10.1.2.4"), Group: 2}, "10.1.2.3-10.1.2.4 . 0x00000002"},
		{KeyRangeGroup, Key{Addr: a("0.0.0.0"), Last: a("255.255.255.255"), Group: 2}, "0.0.0.0/0 . 0x00000002"},
		{KeyRangeGroup, Key{Addr: a("fd00::"), Last: a("fd00::ffff"), Group: 2}, "fd00::/112 . 0x00000002"},
		{KeyNamedPort, Key{Addr: a("10.244.1.5"), Proto: service.UDP, Port: 53, Group: 7}, "10.244.1.5 . udp . 53 . 0x00000007"},
		{KeyAddrVerdict, Key{Addr: a("10.244.1.5")}, "10.244.1.5"},
	} {
		if got := c.k.String(c.kind); got != c.want {
			t.Errorf("%v: %q, want %q", c.k, got, c.want)
		}
	}
	e := Elem{Key: Key{Addr: a("10.244.1.5")}, Verdict: gotoV("pod-x-in")}
	if got := e.String(KeyAddrVerdict); got != "10.244.1.5 : goto pod-x-in" {
		t.Errorf("vmap element %q", got)
	}
	if got := (Elem{Key: Key{Addr: a("10.244.1.5"), Group: 1}}).String(KeyAddrGroup); got != "10.244.1.5 . 0x00000001" {
		t.Errorf("set element %q", got)
	}
}

// TestPolicySetsDiffByElements: membership churn in the policy sets is
// element ops only, and a rule reading a set is ordered after it.
func TestPolicySetsDiffByElements(t *testing.T) {
	a := netip.MustParseAddr
	build := func(g uint32) *Ruleset {
		return &Ruleset{
			Maps:   []*Map{{Name: "peer-cidrs", Key: KeyRangeGroup, Elems: []Elem{{Key: Key{Addr: a("10.0.0.0"), Last: a("10.0.0.7"), Group: g}}}}},
			Chains: []*Chain{{Name: "pol-in", Rules: []Rule{{Exprs: []Expr{AddrGroupIn{Source: true, Group: 1, Set: "peer-cidrs"}, Verdict{}}}}}},
		}
	}
	ops := Diff(build(1), build(2))
	if len(ops) != 2 || ops[0].Kind != OpDelElems || ops[1].Kind != OpAddElems {
		t.Fatalf("ops %v, want one element out and one in", ops)
	}
	if got := (Rule{Exprs: []Expr{NamedPortIn{Set: "np"}, AddrGroupIn{Set: "pp"}}}).refs(); len(got) != 2 || got[0] != "np" || got[1] != "pp" {
		t.Errorf("refs %v", got)
	}
	ops = Diff(nil, build(1))
	at := map[OpKind]int{}
	for i, op := range ops {
		at[op.Kind] = i
	}
	if at[OpAddMap] > at[OpAddRules] {
		t.Errorf("set not created before its rules: %v", ops)
	}
}
