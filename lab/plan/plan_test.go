package plan

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"kinn.dev/kinn/lab/ipam"
	"kinn.dev/kinn/topology"
)

func testLab(overlay topology.Overlay, nodes int) *topology.Lab {
	t := &topology.Lab{Name: "t", Networking: topology.Networking{
		PodSubnet: netip.MustParsePrefix("10.244.0.0/16"), ServiceSubnet: netip.MustParsePrefix("10.96.0.0/16"),
		NodeSubnet: netip.MustParsePrefix("172.18.0.0/16"), NodeCIDRMaskSize: 24,
		Overlay: overlay, VNI: 1, VXLANPort: 4789, MTU: 1500,
	}}
	for i := range nodes {
		t.Nodes = append(t.Nodes, topology.Node{Name: fmt.Sprintf("n%d", i)})
		t.Pods = append(t.Pods, topology.Pod{Namespace: "default", Name: fmt.Sprintf("p%d", i), Node: fmt.Sprintf("n%d", i)})
	}
	return t
}

func build(t *testing.T, tl *topology.Lab) *Lab {
	t.Helper()
	wants, err := PodWants(tl)
	if err != nil {
		t.Fatal(err)
	}
	alloc, err := ipam.Assign(nil, wants)
	if err != nil {
		t.Fatal(err)
	}
	l, err := Build(tl, alloc)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestBuildVXLAN checks flannel's wiring: per remote node a neighbour, an
// FDB entry and an onlink route, and MTU = underlay - 50.
func TestBuildVXLAN(t *testing.T) {
	t.Parallel()
	l := build(t, testLab(topology.OverlayVXLAN, 3))
	n1 := l.Nodes[1]
	if n1.Underlay.String() != "172.18.0.3/16" || n1.PodCIDR.String() != "10.244.1.0/24" || n1.Gateway.String() != "10.244.1.1/24" {
		t.Fatalf("node 1 addressing: %v %v %v", n1.Underlay, n1.PodCIDR, n1.Gateway)
	}
	if n1.PodMTU != 1450 {
		t.Errorf("pod MTU %d, want 1450", n1.PodMTU)
	}
	vx := n1.Links[len(n1.Links)-1]
	if vx.Kind != KindVXLAN || vx.Name != "vxlan.1" || vx.Addrs[0].String() != "10.244.1.0/32" || vx.VXLAN.Local.String() != "172.18.0.3" {
		t.Errorf("vtep: %+v %+v", vx, vx.VXLAN)
	}
	want := []string{
		"neigh 10.244.0.0 " + VTEPMAC("t", "n0"), "neigh 10.244.2.0 " + VTEPMAC("t", "n2"),
		"fdb " + VTEPMAC("t", "n0") + " 172.18.0.2", "fdb " + VTEPMAC("t", "n2") + " 172.18.0.4",
		"route 10.244.0.0/24 via 10.244.0.0 dev vxlan.1 onlink", "route 10.244.2.0/24 via 10.244.2.0 dev vxlan.1 onlink",
		"route 0.0.0.0/0 via 172.18.0.1 dev eth0",
	}
	var got []string
	uplink := 0
	for _, n := range n1.Neigh {
		if n.Dev == NodeUplink {
			uplink++ // static underlay neighbours: the other nodes and the switch
			continue
		}
		got = append(got, fmt.Sprintf("neigh %s %s", n.IP, n.MAC))
	}
	if uplink != 3 {
		t.Errorf("%d static neighbours on eth0, want 3 (two nodes and the switch)", uplink)
	}
	for _, f := range n1.FDB {
		got = append(got, fmt.Sprintf("fdb %s %s", f.MAC, f.Dst))
	}
	for _, r := range n1.Routes {
		got = append(got, "route "+r.String())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("overlay entries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	p := l.Pods[1]
	if p.IP.String() != "10.244.1.2/24" || p.Gateway.String() != "10.244.1.1" || p.MTU != 1450 || p.NodeNetns != "kinn.t.node.n1" {
		t.Errorf("pod: %+v", p)
	}
}

func TestBuildHostGW(t *testing.T) {
	t.Parallel()
	l := build(t, testLab(topology.OverlayHostGW, 2))
	n0 := l.Nodes[0]
	if n0.PodMTU != 1500 || len(n0.Neigh) != 2 || len(n0.FDB) != 0 {
		t.Errorf("host-gw has no tunnel: %+v", n0)
	}
	if len(n0.Routes) != 2 || n0.Routes[0].String() != "10.244.1.0/24 via 172.18.0.3 dev eth0" {
		t.Errorf("routes: %v", n0.Routes)
	}
}

func TestVTEPMACStable(t *testing.T) {
	t.Parallel()
	a, b := VTEPMAC("lab", "n"), VTEPMAC("lab", "n")
	if a != b || a == VTEPMAC("lab2", "n") {
		t.Fatalf("MAC must be a function of lab and node: %s %s", a, b)
	}
	if a[1] != '2' && a[1] != '6' && a[1] != 'a' && a[1] != 'e' {
		t.Errorf("%s is not a locally administered unicast MAC", a)
	}
}

// observed returns the state a freshly built node would show.
func observed(n Node) NodeState {
	st := NodeState{Sysctls: map[string]string{}, Links: map[string]LinkState{}}
	for _, s := range n.Sysctls {
		st.Sysctls[s.Key] = s.Value
	}
	for _, l := range n.Links {
		st.Links[l.Name] = LinkState{Link: l, Up: true}
	}
	st.Neigh = append(st.Neigh, n.Neigh...)
	st.FDB = append(st.FDB, n.FDB...)
	st.Routes = append(st.Routes, n.Routes...)
	return st
}

func TestDiffNode(t *testing.T) {
	t.Parallel()
	n := build(t, testLab(topology.OverlayVXLAN, 3)).Nodes[0]
	tests := []struct {
		name  string
		drift func(*NodeState)
		want  []string
	}{
		{"in sync", func(*NodeState) {}, nil},
		{"fdb entry deleted", func(s *NodeState) { s.FDB = s.FDB[1:] }, []string{"add fdb " + n.FDB[0].MAC}},
		{"route deleted", func(s *NodeState) { s.Routes = s.Routes[:2] }, []string{"add route 0.0.0.0/0"}},
		{"underlay neighbour deleted", func(s *NodeState) { s.Neigh = s.Neigh[:len(s.Neigh)-1] }, []string{"add neighbour 172.18.0.1"}},
		{"stray neighbour", func(s *NodeState) {
			s.Neigh = append(s.Neigh, Neigh{Dev: "vxlan.1", IP: netip.MustParseAddr("10.244.9.0"), MAC: "02:00:00:00:00:01"})
		}, []string{"del neighbour 10.244.9.0"}},
		{"sysctl reset", func(s *NodeState) { s.Sysctls["net/ipv4/ip_forward"] = "0" }, []string{"set sysctl net/ipv4/ip_forward=1"}},
		{"vxlan with the wrong VNI is rebuilt", func(s *NodeState) {
			l := s.Links["vxlan.1"]
			vx := *l.VXLAN
			vx.VNI = 7
			l.VXLAN = &vx
			s.Links["vxlan.1"] = l
		}, []string{"del link vxlan.1", "add link vxlan.1", "add address 10.244.0.0/32"}},
		{"bridge down", func(s *NodeState) {
			l := s.Links["cni0"]
			l.Up = false
			s.Links["cni0"] = l
		}, []string{"set link cni0"}},
		{"uplink gone", func(s *NodeState) { delete(s.Links, "eth0") }, []string{"add link eth0", "add address 172.18.0.2/16"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := observed(n)
			tt.drift(&st)
			changes := DiffNode(n, st)
			if len(changes) != len(tt.want) {
				t.Fatalf("got %d changes %v, want %v", len(changes), changes, tt.want)
			}
			for i, c := range changes {
				if !strings.HasPrefix(c.String(), tt.want[i]) {
					t.Errorf("change %d = %q, want prefix %q", i, c, tt.want[i])
				}
			}
		})
	}
}

func TestPodDrift(t *testing.T) {
	t.Parallel()
	p := build(t, testLab(topology.OverlayVXLAN, 1)).Pods[0]
	ok := PodState{Netns: true, Eth0: true, Up: true, Addrs: []netip.Prefix{p.IP}, Gateway: p.Gateway, HostVeth: true}
	if why := PodDrift(p, ok); why != "" {
		t.Fatalf("intact pod drifted: %s", why)
	}
	broken := ok
	broken.HostVeth = false
	if PodDrift(p, broken) == "" {
		t.Error("a pod without its host veth must be re-attached")
	}
	if PodDrift(p, PodState{}) != "namespace missing" {
		t.Error("a pod without a namespace must be re-created")
	}
}

// TestBuildChain: with the user's CNI chain the nodes get no pod bridge of
// kinn's and pods no address until their ADD; overlay none adds no routes
// between nodes, and routes on devices kinn does not own are left alone.
func TestBuildChain(t *testing.T) {
	t.Parallel()
	tl := testLab(topology.OverlayNone, 2)
	tl.CNI = &topology.CNIConfig{ConfList: "{}"}
	tl.Pods[0].Pod = &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Ports: []corev1.ContainerPort{
		{ContainerPort: 8080, HostPort: 8081, Protocol: corev1.ProtocolUDP}, {ContainerPort: 9090}}}}}}
	l := build(t, tl)
	if !l.Chain {
		t.Fatal("plan does not know the chain attaches the pods")
	}
	n := l.Nodes[0]
	for _, link := range n.Links {
		if link.Name == PodBridge {
			t.Errorf("node has kinn's pod bridge under a chain: %+v", link)
		}
	}
	for _, r := range n.Routes {
		if r.Dst.Bits() != 0 {
			t.Errorf("overlay none routes %v", r)
		}
	}
	p := l.Pods[0]
	if p.IP.IsValid() || !p.Want.IsValid() || p.HostVeth != "" || p.Attached() {
		t.Errorf("chain pod before ADD: %+v", p)
	}
	if len(p.Ports) != 1 || p.Ports[0] != (HostPort{HostPort: 8081, ContainerPort: 8080, Protocol: "udp"}) {
		t.Errorf("host ports = %+v", p.Ports)
	}
	if why := PodDrift(p, PodState{Netns: true, Eth0: true, Up: true}); why != "not attached" {
		t.Errorf("drift of an unattached chain pod = %q", why)
	}
	p.IP = netip.MustParsePrefix("10.244.0.7/24")
	if why := PodDrift(p, PodState{Netns: true, Eth0: true, Up: true, Addrs: []netip.Prefix{p.IP}}); why != "" {
		t.Errorf("an attached chain pod drifts: %q (no host veth of kinn's to look for)", why)
	}
	ptpRoute := Route{Dst: netip.MustParsePrefix("10.244.0.7/32"), Dev: "veth1234"}
	for _, c := range DiffNode(n, NodeState{Links: map[string]LinkState{}, Routes: []Route{ptpRoute}}) {
		if c.Route != nil && c.Op == OpDel {
			t.Errorf("up would delete the chain's route: %v", c)
		}
	}
}

// TestExplain: up's repair report names what was repaired and the node an
// entry leads to.
func TestExplain(t *testing.T) {
	l := build(t, testLab(topology.OverlayVXLAN, 2))
	n := l.Nodes[1]
	peer := l.Nodes[0]
	for _, tt := range []struct {
		c    Change
		want string
	}{
		{Change{Op: OpAdd, FDB: &n.FDB[0], Reason: "missing"},
			fmt.Sprintf("%s: FDB entry %s -> %s on %s (%s's underlay address) was missing: restored", n.Name, n.FDB[0].MAC, peer.Underlay.Addr(), n.FDB[0].Dev, peer.Name)},
		{Change{Op: OpAdd, Route: &n.Routes[0], Reason: "missing"},
			fmt.Sprintf("%s: route %s (to %s's pods) was missing: restored", n.Name, n.Routes[0], peer.Name)},
		{Change{Op: OpDel, Link: &n.Links[0], Reason: "not in the plan"},
			fmt.Sprintf("%s: link %s (%s) was not in the plan: removed", n.Name, n.Links[0].Name, n.Links[0].Kind)},
	} {
		if got := l.Explain(n.Name, tt.c); got != tt.want {
			t.Errorf("got  %s\nwant %s", got, tt.want)
		}
	}
}
