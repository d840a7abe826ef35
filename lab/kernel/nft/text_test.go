package nft

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"kinn.dev/kinn/lab/kernel"
	"kinn.dev/kinn/lab/kernel/kerneltest"
)

// TestRulesText reads back a table kinn did not write (the shapes portmap
// and iptables-nft write) and renders each rule as nft prints it.
func TestRulesText(t *testing.T) {
	ns := kerneltest.NewLab(t, "tchtext").NetnsPrefix() + "x"
	if _, err := kernel.CreateNetns(ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kernel.DeleteNetns(ns) })
	want := []string{
		`tcp dport 8081 dnat to 10.244.1.5:8080 comment "kinn-abc"`,
		`fib daddr type local jump c2`,
		`ip saddr 10.244.1.5 ip daddr 10.244.1.5 masquerade`,
		`ct state established,related accept`,
		`ip saddr 10.0.0.0/8 meta mark & 0x00004000 == 0 counter drop`,
		`iifname "eth0" udp sport 53 return`,
		`ip daddr 10.96.0.0/12 meta l4proto udp th dport 53 accept`,
	}
	cmd := exec.Command("ip", "netns", "exec", ns, "nft", "-f", "-")
	script := "table ip other {\n chain c {\n"
	for _, w := range want {
		script += "  " + w + "\n"
	}
	cmd.Stdin = strings.NewReader(script + " }\n chain c2 {\n }\n}\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft: %v\n%s", err, out)
	}
	rules, err := Rules(ns, "", func(table string) bool { return table == "other" })
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rules {
		if r.Table != "other" || r.Chain != "c" || r.Family != "ip" || r.Handle == 0 {
			t.Errorf("rule out of place: %+v", r)
		}
		got = append(got, r.Text)
	}
	want[4] = `ip saddr 10.0.0.0/8 meta mark & 0x4000 == 0x0 counter drop`
	want[6] = `ip daddr 10.96.0.0/12 udp dport 53 accept`
	if !slices.Equal(got, want) {
		t.Errorf("rules read back as\n%q\nwant\n%q", got, want)
	}
	if rules[0].NAT != "dnat to 10.244.1.5:8080" || rules[0].Comment != "kinn-abc" || rules[2].NAT != "masquerade" {
		t.Errorf("NAT or comment not read: %+v", rules[:3])
	}
	handles, err := RuleHandles(ns, "other")
	if err != nil || len(handles["c"]) != len(want) || len(handles["c2"]) != 0 {
		t.Errorf("RuleHandles = %v, %v", handles, err)
	}
}
