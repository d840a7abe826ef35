package cli_test

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
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

// TestClusterIPsCheck: a connection to a ClusterIP on a port its Service
// does not have is refused at once, and packets to an unallocated address
// of the service network are dropped on the node instead of routed on
// (kube-proxy's cluster-ips set and cluster-ips-check chain), from a pod
// and from the node alike; the Service's own port still answers.
func TestClusterIPsCheck(t *testing.T) {
	e := newEnv(t, "cips")
	e.up("")
	e.checkPasses()
	ip := e.svcIP("web")
	const unallocated = "10.96.255.254"
	var clientNode string
	for _, p := range e.pods() {
		if p.Name == "client" {
			clientNode = p.Spec.NodeName
		}
	}
	for _, from := range []string{"client", "node/" + clientNode} {
		curl := func(url string) (string, string, int) {
			return e.run("exec", "--name", e.name, from, "--", "curl", "-sS", "-m", "2", url)
		}
		if out, errOut, code := curl("http://" + ip + "/hostname"); code != 0 {
			t.Errorf("%s -> ClusterIP:80: exit %d %s%s; the Service's port must answer", from, code, out, errOut)
		}
		if _, errOut, code := curl("http://" + ip + ":81/"); code != 7 {
			t.Errorf("%s -> ClusterIP:81 (no such port): exit %d %q; want refused at once (exit 7), not a timeout", from, code, errOut)
		}
		if _, errOut, code := curl("http://" + unallocated + "/"); code != 28 {
			t.Errorf("%s -> unallocated %s: exit %d %q; want dropped (curl times out, exit 28)", from, unallocated, code, errOut)
		}
	}
	// Dropped, not routed on: 100 pings from the pod leave no trace on
	// the node's uplink (its default route would take them out).
	before := e.txPackets(clientNode, "eth0")
	e.run("exec", "--name", e.name, "client", "--", "ping", "-q", "-c", "100", "-i", "0.01", "-W", "1", unallocated)
	if sent := e.txPackets(clientNode, "eth0") - before; sent >= 50 {
		t.Errorf("100 pings to the unallocated %s: %d packets left node %s; want them dropped there", unallocated, sent, clientNode)
	}
}

// txPackets is the count of packets a node's link has sent.
func (e *env) txPackets(node, link string) uint64 {
	e.t.Helper()
	var l []struct {
		Stats64 struct{ TX struct{ Packets uint64 } } `json:"stats64"`
	}
	out := e.must("exec", "--name", e.name, "node/"+node, "--", "ip", "-j", "-s", "link", "show", link)
	if err := json.Unmarshal([]byte(out), &l); err != nil || len(l) != 1 {
		e.t.Fatalf("ip -j -s link show %s on %s: %v\n%s", link, node, err, out)
	}
	return l[0].Stats64.TX.Packets
}

// A raw TCP segment with SYN and FIN both set, which conntrack calls
// invalid (no valid flag combination), from argv[1] to argv[2] port 47123;
// and a receiver that prints the first segment to that port it sees.
const (
	sendSynFin = `import socket, struct, sys, time
src, dst = sys.argv[1], sys.argv[2]
def csum(b):
    t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    t = (t >> 16) + (t & 0xffff)
    return ~(t + (t >> 16)) & 0xffff
hdr = struct.pack("!HHIIBBHHH", 40000, 47123, 1, 0, 5 << 4, 0x03, 1024, 0, 0)
c = csum(socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(hdr)) + hdr)
hdr = hdr[:16] + struct.pack("!H", c) + hdr[18:]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
for _ in range(10):
    s.sendto(hdr, (dst, 0))
    time.sleep(0.2)
`
	receiveSynFin = `import socket
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
s.settimeout(4)
print("listening", flush=True)
while True:
    d = s.recv(65535)
    ihl = (d[0] & 15) * 4
    if int.from_bytes(d[ihl + 2:ihl + 4], "big") == 47123:
        print("flags", d[ihl + 13], flush=True)
        break
`
)

// TestNoCtStateInvalidDrop: a packet conntrack calls invalid is forwarded
// between pods on two nodes, not dropped: kube-proxy removed its `ct state
// invalid drop` (kubernetes PR #122663), since such packets are not the
// proxy's to judge.
func TestNoCtStateInvalidDrop(t *testing.T) {
	e := newEnv(t, "inval")
	e.up("")
	e.checkPasses()
	var client, server corev1.Pod
	for _, p := range e.pods() {
		if p.Name == "client" {
			client = p
		}
	}
	for _, p := range e.pods() {
		if p.Status.PodIP != "" && p.Spec.NodeName != client.Spec.NodeName && p.Spec.NodeName != "" && !p.Spec.HostNetwork {
			server = p
		}
	}
	if server.Name == "" {
		t.Fatal("no pod on another node than the client's")
	}
	type result struct {
		out, errOut string
		code        int
	}
	got := make(chan result, 1)
	go func() {
		out, errOut, code := e.run("exec", "--name", e.name, "-n", server.Namespace, server.Name, "--", "python3", "-c", receiveSynFin)
		got <- result{out, errOut, code}
	}()
	time.Sleep(500 * time.Millisecond) // the receiver's socket open
	if out, errOut, code := e.run("exec", "--name", e.name, "client", "--", "python3", "-c", sendSynFin, client.Status.PodIP, server.Status.PodIP); code != 0 {
		t.Fatalf("sending: exit %d %s%s", code, out, errOut)
	}
	r := <-got
	if r.code != 0 || !strings.Contains(r.out, "flags 3") {
		t.Errorf("%s (node %s) did not receive the SYN|FIN segment from client (node %s): exit %d %s%s",
			server.Name, server.Spec.NodeName, client.Spec.NodeName, r.code, r.out, r.errOut)
	}
}
