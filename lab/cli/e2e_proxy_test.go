package cli_test

import (
	"net/netip"
	"strings"
	"testing"
)

// Real-packet tests of kube-proxy behaviours (nftables mode) in kinn's
// service proxy, each named after the behaviour. They use the default lab:
// pod network 10.244.0.0/16, services 10.96.0.0/16, the switch namespace
// (kinn exec --external) at 172.18.0.1.

var (
	defaultPodSubnet     = netip.MustParsePrefix("10.244.0.0/16")
	defaultServiceSubnet = "10.96.0.0/16"
)

// clientAddr is the address part of agnhost's /clientip answer (ip:port).
func clientAddr(body string) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(strings.TrimSpace(body))
	return ap.Addr(), err == nil
}

// TestMasqueradeOffClusterTrafficToClusterIP: a ClusterIP reached from a
// node, or from outside with a route to the service network, is
// masqueraded (kube-proxy's `ip saddr != <pod CIDR> jump
// mark-for-masquerade`): the endpoint sees an address of the pod network,
// never the node's or the outside client's, so its reply comes back
// through the node that translated it.
func TestMasqueradeOffClusterTrafficToClusterIP(t *testing.T) {
	e := newEnv(t, "masq")
	e.up("")
	e.checkPasses()
	url := "http://" + e.svcIP("web") + "/clientip"
	nodes := e.nodes()
	for _, n := range nodes {
		nodeIP := n.Status.Addresses[0].Address
		for range 4 { // the endpoint is random: on this node and others
			out, errOut, code := e.run("exec", "--name", e.name, "node/"+n.Name, "--", "curl", "-sS", "-m", "2", url)
			ip, ok := clientAddr(out)
			if code != 0 || !ok || ip.String() == nodeIP || !defaultPodSubnet.Contains(ip) {
				t.Errorf("node %s -> ClusterIP: exit %d, /clientip %q %s; want an address of the pod network, not the node's %s", n.Name, code, out, errOut, nodeIP)
			}
		}
	}
	// From outside, through the first node.
	via := nodes[0].Status.Addresses[0].Address
	e.must("exec", "--name", e.name, "--external", "--", "ip", "route", "add", defaultServiceSubnet, "via", via)
	for range 4 {
		out, errOut, code := e.run("exec", "--name", e.name, "--external", "--", "curl", "-sS", "-m", "2", url)
		ip, ok := clientAddr(out)
		if code != 0 || !ok || !defaultPodSubnet.Contains(ip) {
			t.Errorf("outside -> ClusterIP via %s: exit %d, /clientip %q %s; want an address of the pod network, not the outside client's", via, code, out, errOut)
		}
	}
}
