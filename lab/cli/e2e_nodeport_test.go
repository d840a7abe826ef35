package cli_test

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// NodePort addresses, real packets: kube-proxy's nftables mode serves
// NodePorts on the node's primary address only (nodePortAddresses
// "primary"), never on 127.0.0.1; kinn's networking.nodePortAddresses
// chooses the node's addresses within the networks it lists instead.

const nodePort = "30080" // web-nodeport in the default topology

// nodePortClient is the client pod's node and that node's two addresses:
// its underlay (primary) address and its cni0 gateway, the pod's default
// route.
func (e *env) nodePortClient() (node string, underlay, gateway netip.Addr) {
	e.t.Helper()
	for _, p := range e.pods() {
		if p.Name == "client" {
			node = p.Spec.NodeName
		}
	}
	for _, n := range e.nodes() {
		if n.Name == node {
			underlay = netip.MustParseAddr(n.Status.Addresses[0].Address)
		}
	}
	// "default via 10.244.1.1 dev eth0 ..."
	f := strings.Fields(e.must("exec", "--name", e.name, "client", "--", "ip", "-4", "route", "show", "default"))
	if len(f) < 3 || f[1] != "via" {
		e.t.Fatalf("client's default route: %q", f)
	}
	gateway = netip.MustParseAddr(f[2])
	if node == "" || !underlay.IsValid() || underlay == gateway {
		e.t.Fatalf("client on node %q, underlay %v, gateway %v", node, underlay, gateway)
	}
	return node, underlay, gateway
}

// nodePortAnswers reports whether from reaches the NodePort on addr.
func (e *env) nodePortAnswers(from string, addr netip.Addr) bool {
	e.t.Helper()
	_, _, code := e.run("exec", "--name", e.name, from, "--", "curl", "-sS", "-m", "2", "http://"+addr.String()+":"+nodePort+"/hostname")
	return code == 0
}

// TestNodePortPrimaryAddressOnly: by default a NodePort answers on the
// node's underlay address, from a pod and from the node, but not on the pod
// bridge's gateway address nor on 127.0.0.1; `kinn check`, which probes
// NodePorts on the primary addresses, passes.
func TestNodePortPrimaryAddressOnly(t *testing.T) {
	e := newEnv(t, "npprim")
	e.up("")
	e.checkPasses()
	node, underlay, gateway := e.nodePortClient()
	e.assertNodePorts("NodePorts on the primary address only", []nodePortCase{
		{"client", underlay, true},
		{"client", gateway, false},
		{"node/" + node, underlay, true},
		{"node/" + node, netip.MustParseAddr("127.0.0.1"), false},
		{"node/" + node, gateway, false},
	})
}

// nodePortCase is one probe: from a pod or node/NAME to a node address.
type nodePortCase struct {
	from string
	addr netip.Addr
	want bool
}

// assertNodePorts probes each case and reports those that answered when
// they should not, or not when they should.
func (e *env) assertNodePorts(why string, cases []nodePortCase) {
	e.t.Helper()
	for _, c := range cases {
		if got := e.nodePortAnswers(c.from, c.addr); got != c.want {
			e.t.Errorf("%s -> %s:%s answered %v, want %v (%s)", c.from, c.addr, nodePort, got, c.want, why)
		}
	}
}

// TestNodePortAddressesCIDR: with networking.nodePortAddresses set to the
// pod network, the NodePort answers on the node's cni0 gateway (in it) and
// no longer on its underlay address (outside it), nor on 127.0.0.1; `kinn
// check` probes NodePorts where they are served and passes.
func TestNodePortAddressesCIDR(t *testing.T) {
	def, err := os.ReadFile("../../topology/default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const anchor = "  overlay: vxlan"
	if !strings.Contains(string(def), anchor) {
		t.Fatalf("default topology has no %q line to add nodePortAddresses after", anchor)
	}
	file := filepath.Join(t.TempDir(), "np.yaml")
	text := strings.Replace(string(def), anchor, "  nodePortAddresses: [10.244.0.0/16]\n"+anchor, 1)
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, "npcidr")
	e.up(file)
	e.checkPasses()
	node, underlay, gateway := e.nodePortClient()
	e.assertNodePorts("nodePortAddresses [10.244.0.0/16]", []nodePortCase{
		{"client", gateway, true},
		{"client", underlay, false},
		{"node/" + node, gateway, true},
		{"node/" + node, underlay, false},
		{"node/" + node, netip.MustParseAddr("127.0.0.1"), false},
	})
}
