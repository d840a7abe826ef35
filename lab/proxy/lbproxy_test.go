package proxy

import (
	"net/netip"
	"slices"
	"testing"

	"kinn.dev/kinn/lab/service"
)

// TestBuildLoadBalancer: an ipMode Proxy address is forwarded by the
// switch to the node port of a node chosen at random (only those with an
// endpoint under externalTrafficPolicy Local), from the load balancer's
// own address, after its source ranges; VIP addresses and ports without a
// node port are not the switch's.
func TestBuildLoadBalancer(t *testing.T) {
	t.Parallel()
	names := []string{"n1", "n2", "n3"}
	addrs := map[string]netip.Addr{"n1": netip.MustParseAddr("172.18.0.2"), "n2": netip.MustParseAddr("172.18.0.3"), "n3": netip.MustParseAddr("172.18.0.4")}
	p := lbWeb(ep("a", "10.244.1.2", "n2", true))
	p.ProxiedLoadBalancerIPs, p.LoadBalancerIPs = p.LoadBalancerIPs, nil
	p.SourceRanges = []netip.Prefix{netip.MustParsePrefix("172.18.0.0/16")}
	noNodePort := lbWeb()
	noNodePort.Service, noNodePort.NodePort, noNodePort.ProxiedLoadBalancerIPs = "nonp", 0, []netip.Addr{netip.MustParseAddr("172.18.255.201")}
	vip := lbWeb()
	vip.Service, vip.LoadBalancerIPs = "vip", []netip.Addr{netip.MustParseAddr("172.18.255.202")}

	rs := BuildLoadBalancer([]service.Port{p, noNodePort, vip}, names, addrs)
	const lb = "lb-default/web/http/tcp"
	if got := elem(rs, MapLoadBalancerIP, "172.18.255.200 . tcp . 80"); got != "goto "+lb {
		t.Errorf("load-balancer-ips = %q, want goto %s", got, lb)
	}
	if n := len(rs.Map(MapLoadBalancerIP).Elems); n != 1 {
		t.Errorf("%d addresses; only the Proxy-mode one with a node port is the switch's", n)
	}
	want := []string{
		`counter ip saddr != 172.18.0.0/16 drop comment "source outside loadBalancerSourceRanges"`,
		`jump mark-for-masquerade comment "a proxy connects from its own address"`,
		"numgen random mod 3 == 0 goto " + lb + "/n1",
		"numgen random mod 2 == 0 goto " + lb + "/n2",
		"goto " + lb + "/n3",
	}
	if got := rules(rs, lb); !slices.Equal(got, want) {
		t.Errorf("%s:\n%q\nwant\n%q", lb, got, want)
	}
	if got := rules(rs, lb+"/n2"); !slices.Equal(got, []string{"counter meta l4proto tcp dnat to 172.18.0.3:30080"}) {
		t.Errorf("node chain: %q", got)
	}
	p.ExternalLocal = true
	got := rules(BuildLoadBalancer([]service.Port{p}, names, addrs), lb)
	if got[len(got)-1] != "goto "+lb+"/n2" || len(got) != 3 {
		t.Errorf("Local: %q; want only n2, the node with the endpoint", got)
	}
}
