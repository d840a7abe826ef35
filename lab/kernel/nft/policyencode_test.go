package nft

import (
	"os/exec"
	"strings"
	"testing"

	"kinn.dev/kinn/lab/kernel"
	"kinn.dev/kinn/lab/kernel/kerneltest"
	"kinn.dev/kinn/lab/proxy"
	"kinn.dev/kinn/lab/service"
)

// TestPolicyEncodeRefuses: what the kernel would refuse, or silently
// truncate, is an error before any message is sent.
func TestPolicyEncodeRefuses(t *testing.T) {
	for _, c := range []struct {
		e    proxy.Expr
		want string
	}{
		{proxy.Log{Group: 1, Prefix: strings.Repeat("x", 128)}, "longer than 127"},
		{proxy.CtLabelSet{Bit: 128}, "out of range"},
		{proxy.CtLabel{Bit: 200}, "out of range"},
		{proxy.Dport{First: 90, Last: 80}, "empty"},
		{proxy.CtState{State: "established,bogus"}, `unknown ct state "bogus"`},
	} {
		if _, err := encode(c.e); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want an error saying %q", c.e, err, c.want)
		}
	}
	if _, err := encode(proxy.Log{Group: 1, Prefix: strings.Repeat("x", 127)}); err != nil {
		t.Errorf("127-byte prefix: %v", err)
	}
}

// TestPolicyExprsAsNftWritesThem: the expressions nft can parse are
// encoded as nft encodes them: rules nft writes read back equal to kinn's
// encoding, so drift detection and nft agree on what a rule is.
func TestPolicyExprsAsNftWritesThem(t *testing.T) {
	ns := kerneltest.NewLab(t, "npnft").NetnsPrefix() + "x"
	if _, err := kernel.CreateNetns(ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kernel.DeleteNetns(ns) })
	accept := proxy.Verdict{Kind: proxy.Accept}
	rules := []proxy.Rule{
		{Exprs: []proxy.Expr{proxy.CtState{State: "established,related"}, accept}},
		{Exprs: []proxy.Expr{proxy.Log{Group: 100, Prefix: "np D I 7f3a"}, proxy.Verdict{Kind: proxy.Drop}}},
		{Exprs: []proxy.Expr{proxy.CtLabelSet{Bit: 3}, proxy.CtLabelSet{Bit: 66}}},
		{Exprs: []proxy.Expr{proxy.CtLabel{Bit: 127}, accept}},
		{Exprs: []proxy.Expr{proxy.L4Proto{Proto: service.TCP}, proxy.Dport{First: 8000, Last: 8100}, accept}},
		{Exprs: []proxy.Expr{proxy.L4Proto{Proto: service.UDP}, proxy.Dport{First: 53, Last: 53}, accept}},
		{Exprs: []proxy.Expr{proxy.Vmap{Key: proxy.KeyAddrVerdict, Source: true, Map: "eg-pods"}}},
	}
	script := "table ip " + proxy.TableName + " {\n map eg-pods { type ipv4_addr : verdict; }\n chain c {\n"
	for _, r := range rules {
		script += "  " + r.String() + "\n"
	}
	cmd := exec.Command("ip", "netns", "exec", ns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script + " }\n}\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft: %v\n%s\n%s", err, out, script)
	}
	tb, err := Open(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Close()
	tb.mu.Lock()
	kt, err := tb.observe()
	tb.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	have := kt.chains["c"].rules
	if len(have) != len(rules) {
		t.Fatalf("nft wrote %d rules, want %d", len(have), len(rules))
	}
	for i, r := range rules {
		k, err := wantKey("c", r)
		if err != nil {
			t.Fatal(err)
		}
		if hk := ruleKey(have[i]); hk != k {
			t.Errorf("%q: nft wrote %s, kinn encodes %x", r, describe(have[i], hk, nil), k)
		}
	}
}
