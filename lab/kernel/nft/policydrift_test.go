package nft

import (
	"slices"
	"strings"
	"testing"

	"kinn.dev/kinn/lab/proxy"
)

// TestPolicyDriftAndText: the new expressions and set kinds read back as
// written (no drift after a load), drift in their elements is found and
// repaired by elements alone, and their rules read back in nft's words.
func TestPolicyDriftAndText(t *testing.T) {
	f := newFixture(t)
	rs := policyRuleset()
	if err := f.table.Load(rs); err != nil {
		t.Fatal(err)
	}
	_, d, err := f.table.Inspect(rs)
	if err != nil || !d.Empty() {
		t.Fatalf("drift right after a load: %v, %v", d, err)
	}
	rules, err := Rules(f.node, proxy.TableName, func(string) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rules {
		got = append(got, r.Chain+": "+r.Text)
	}
	// As `nft list` prints them (which says "0x11000000 [invalid type]"
	// for the ids: it cannot type an immediate in a concatenation).
	want := []string{
		`ingress: ct state established,related accept`,
		`ingress: ip daddr vmap @in-pods`,
		`pod-p1-in: ip saddr . 0x00000011 @peer-pods tcp dport 8080 log prefix "np A I p1" group 100 ct label set 3 accept`,
		`pod-p1-in: log prefix "np D I p1" group 100 drop`,
		`pod-p2-in: udp dport 8000-8100 ip saddr . 0x00000022 @peer-cidrs accept`,
		`pod-p2-in: drop`,
		`pod-p3-in: ip daddr . meta l4proto . tcp dport . 0x00000005 @named-ports accept`,
		`pod-p3-in: drop`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("rules read back as\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Someone edits the sets by hand.
	f.nft("delete", "element", "ip", "kinn", "peer-cidrs", "{ 192.168.50.3-192.168.50.255 . 0x22000000 }")
	f.nft("add", "element", "ip", "kinn", "peer-pods", "{ 10.1.2.3 . 0x00000011 }")
	f.nft("delete", "element", "ip", "kinn", "named-ports", "{ 10.244.0.13 . tcp . 8080 . 0x00000005 }")
	_, d, err = f.table.Inspect(rs)
	if err != nil {
		t.Fatal(err)
	}
	wantDrift := []string{
		"map named-ports had 0 of 1 element; missing: 10.244.0.13 . tcp . 8080 . 0x00000005",
		"map peer-cidrs had 1 of 2 elements; missing: 192.168.50.3-192.168.50.255 . 0x00000022",
		"map peer-pods had 1 element kinn did not write; extra: 10.1.2.3 . 0x00000011",
	}
	var gotDrift []string
	for _, m := range d.Maps {
		gotDrift = append(gotDrift, m.String())
	}
	if len(d.Chains) != 0 || !slices.Equal(gotDrift, wantDrift) {
		t.Fatalf("drift %v\nwant maps\n%s", d, strings.Join(wantDrift, "\n"))
	}
	ops, reload := d.Repair(rs)
	if reload {
		t.Fatal("element drift asks for a reload")
	}
	if err := f.table.Apply(ops); err != nil {
		t.Fatal(err)
	}
	if _, d, err = f.table.Inspect(rs); err != nil || !d.Empty() {
		t.Fatalf("drift after repair: %v, %v", d, err)
	}
}

// TestPolicyRulesText renders the IR without a kernel, as nft lists it.
func TestPolicyRulesText(t *testing.T) {
	rs := policyRuleset()
	got := rs.String()
	for _, w := range []string{
		"\tset peer-cidrs {\n\t\ttype ipv4_addr . mark\n\t\tflags interval\n\t\telements = { 192.168.50.0/31 . 0x00000022,\n\t\t\t     192.168.50.3-192.168.50.255 . 0x00000022 }\n",
		"\tmap in-pods {\n\t\ttype ipv4_addr : verdict\n",
		"\t\tip saddr . 0x00000011 @peer-pods meta l4proto tcp th dport 8080 log prefix \"np A I p1\" group 100 ct label set 3 accept\n",
		"\t\tmeta l4proto udp th dport 8000-8100 ip saddr . 0x00000022 @peer-cidrs accept\n",
		"\t\tmeta l4proto tcp ip daddr . meta l4proto . th dport . 0x00000005 @named-ports accept\n",
		"\t\tip daddr vmap @in-pods\n",
		"\t\tct state established,related accept\n",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("ruleset text lacks %q:\n%s", w, got)
		}
	}
}
