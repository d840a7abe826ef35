package lab

import (
	"net/netip"
	"strings"
	"testing"

	"kinn.dev/kinn/lab/kernel/nft"
	"kinn.dev/kinn/lab/proxy"
	"kinn.dev/kinn/lab/service"
)

// TestTableViews: the table's fixed objects in the order a packet meets
// them, each with its hook, its live counter or element count and its
// meaning; the per-Service chains counted by family; nothing Build makes
// left out.
func TestTableViews(t *testing.T) {
	t.Parallel()
	p := webNodePort()
	want := proxy.Build(proxy.Node{Name: "n1", IPs: []netip.Addr{netip.MustParseAddr("172.18.0.2")}}, []service.Port{p})
	seen := nft.Seen{
		Counters: map[string]nft.Counter{"services": {Packets: 7, Bytes: 420}, "cluster-ips-check": {Packets: 0}},
		Elements: map[string]int{"service-ips": 1, "nodeport-ips": 1},
	}
	got := tableViews(want, seen)
	byName := map[string]TableObjectView{}
	var order []string
	for _, v := range got {
		byName[v.Name] = v
		order = append(order, v.Name)
		if v.Meaning == "" || v.Short == "" {
			t.Errorf("%s without a meaning", v.Name)
		}
	}
	if strings.Join(order[:6], " ") != "filter-prerouting-pre-dnat filter-output-pre-dnat nat-prerouting nat-output services service-ips" {
		t.Errorf("order %v, want the packet's path first", order)
	}
	if h := byName["nat-prerouting"].Hook; h != "nat prerouting -100" {
		t.Errorf("nat-prerouting's hook %q", h)
	}
	if v := byName["services"]; v.Hook != "" || v.Packets == nil || *v.Packets != 7 || *v.Bytes != 420 || v.Elements != nil {
		t.Errorf("services: %+v", v)
	}
	if v := byName["cluster-ips-check"]; v.Packets == nil || *v.Packets != 0 {
		t.Errorf("a counter at 0 is shown as 0: %+v", v)
	}
	if v := byName["masquerading"]; v.Packets != nil {
		t.Errorf("a counter the kernel lacks is shown: %+v", v)
	}
	if v := byName["service-ips"]; v.Elements == nil || *v.Elements != 1 || v.Packets != nil {
		t.Errorf("service-ips: %+v", v)
	}
	if v := byName["cluster-ips"]; v.Elements != nil {
		t.Errorf("an element count the kernel did not give is shown: %+v", v)
	}
	if v := byName["reject"]; v.KubeProxy != "reject-chain" {
		t.Errorf("reject: kube-proxy's name %q", v.KubeProxy)
	}
	for family, n := range map[string]int{"svc-*": 1, "ext-*": 1, "ep-*": 2} {
		if v := byName[family]; v.Count == nil || *v.Count != n {
			t.Errorf("%s: %+v, want %d", family, v, n)
		}
	}
	if _, ok := byName["aff-*"]; ok {
		t.Errorf("a family the table does not have is listed")
	}
	// Every fixed chain and map of the ruleset is listed.
	for _, c := range want.Chains {
		if m, _ := proxy.MeaningOf(c.Name); !m.PerService {
			if _, ok := byName[c.Name]; !ok {
				t.Errorf("chain %s not listed", c.Name)
			}
		}
	}
	for _, m := range want.Maps {
		if _, ok := byName[m.Name]; !ok {
			t.Errorf("map %s not listed", m.Name)
		}
	}
}
