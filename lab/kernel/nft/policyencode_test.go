package nft

import (
	"strings"
	"testing"

	"kinn.dev/kinn/lab/proxy"
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
