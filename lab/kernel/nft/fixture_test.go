package nft

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"kinn.dev/kinn/lab/kernel"
	"kinn.dev/kinn/lab/kernel/kerneltest"
	"kinn.dev/kinn/lab/proxy"
	"kinn.dev/kinn/lab/service"
)

// The test topology, built with iproute2 (tests only):
//
//	ext (192.168.50.2) --veth-- node (192.168.50.1; cni0 10.244.0.1/24)
//	                               cni0 -- p1 .11, p2 .12, p3 .13 (servers), c .20 (client)
//
// Every pod runs a TCP and a UDP server on :8080 answering
// "<pod> <client ip:port>".
type fixture struct {
	t      testing.TB
	prefix string
	node   string
	table  *Table
}

const (
	nodeName = "n1"
	nodeIP   = "192.168.50.1"
	extIP    = "192.168.50.2"
	bridgeIP = "10.244.0.1"
)

var pods = map[string]string{"p1": "10.244.0.11", "p2": "10.244.0.12", "p3": "10.244.0.13", "c": "10.244.0.20"}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{t: t, prefix: kerneltest.NewLab(t, "nfttest").NetnsPrefix()}
	f.node = f.ns("node")
	t.Cleanup(func() {
		for _, n := range kerneltest.Namespaces(f.prefix) {
			kernel.DeleteNetns(n)
		}
	})
	for _, n := range []string{"node", "ext", "p1", "p2", "p3", "c"} {
		if _, err := kernel.CreateNetns(f.ns(n)); err != nil {
			t.Fatal(err)
		}
	}
	f.ip("node", "link", "add", "cni0", "type", "bridge")
	f.ip("node", "addr", "add", bridgeIP+"/24", "dev", "cni0")
	f.ip("node", "link", "set", "cni0", "up")
	f.ip("node", "link", "set", "lo", "up")
	f.ip("node", "link", "add", "ext0", "type", "veth", "peer", "name", "eth0", "netns", f.ns("ext"))
	f.ip("node", "addr", "add", nodeIP+"/24", "dev", "ext0")
	f.ip("node", "link", "set", "ext0", "up")
	f.ip("node", "route", "add", "default", "via", extIP)
	f.ip("ext", "addr", "add", extIP+"/24", "dev", "eth0")
	f.ip("ext", "link", "set", "eth0", "up")
	f.ip("ext", "link", "set", "lo", "up")
	f.ip("ext", "route", "add", "default", "via", nodeIP)
	f.sysctl("node", "net.ipv4.ip_forward", "1")
	for name, ip := range pods {
		host := "v" + name
		f.ip("node", "link", "add", host, "type", "veth", "peer", "name", "eth0", "netns", f.ns(name))
		f.ip("node", "link", "set", host, "master", "cni0", "up")
		// Hairpin: the bridge may send a frame back out of the port it came in.
		f.ip("node", "link", "set", host, "type", "bridge_slave", "hairpin", "on")
		f.ip(name, "addr", "add", ip+"/24", "dev", "eth0")
		f.ip(name, "link", "set", "eth0", "up")
		f.ip(name, "link", "set", "lo", "up")
		f.ip(name, "route", "add", "default", "via", bridgeIP)
		if name != "c" {
			f.serve(name)
		}
	}
	tb, err := Open(f.node)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tb.Close() })
	f.table = tb
	return f
}

func (f *fixture) ns(name string) string { return f.prefix + name }

func (f *fixture) ip(ns string, args ...string) {
	f.t.Helper()
	args = append([]string{"-n", f.ns(ns)}, args...)
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		f.t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func (f *fixture) sysctl(ns, key, val string) {
	f.t.Helper()
	if out, err := exec.Command("ip", "netns", "exec", f.ns(ns), "sysctl", "-qw", key+"="+val).CombinedOutput(); err != nil {
		f.t.Fatalf("sysctl %s: %v\n%s", key, err, out)
	}
}

// nft runs the nft binary in the node namespace (to inspect or to play the
// admin who deletes the table by hand).
func (f *fixture) nft(args ...string) string {
	f.t.Helper()
	out, err := exec.Command("ip", append([]string{"netns", "exec", f.node, "nft"}, args...)...).CombinedOutput()
	if err != nil {
		f.t.Fatalf("nft %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// serve starts the pod's servers; their sockets are created inside the
// pod's namespace and stay there.
func (f *fixture) serve(pod string) {
	var ln net.Listener
	var pc net.PacketConn
	err := kernel.Do(f.ns(pod), func() error {
		var err error
		if ln, err = net.Listen("tcp4", ":8080"); err != nil {
			return err
		}
		pc, err = net.ListenPacket("udp4", ":8080")
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { ln.Close(); pc.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "%s %s\n", pod, c.RemoteAddr())
			c.Close()
		}
	}()
	go func() {
		buf := make([]byte, 1500)
		for {
			_, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo([]byte(fmt.Sprintf("%s %s\n", pod, from)), from)
		}
	}()
}

// answer is what a server said: who it is and whom it saw.
type answer struct{ pod, client string }

func parse(s string) answer {
	f := strings.Fields(s)
	if len(f) != 2 {
		return answer{}
	}
	host, _, _ := net.SplitHostPort(f[1])
	return answer{f[0], host}
}

// tcp connects from namespace ns to addr and reads the answer.
func (f *fixture) tcp(ns, addr string, timeout time.Duration) (answer, error) {
	var c net.Conn
	err := kernel.Do(f.ns(ns), func() error {
		var err error
		c, err = net.DialTimeout("tcp4", addr, timeout)
		return err
	})
	if err != nil {
		return answer{}, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	line, err := bufio.NewReader(c).ReadString('\n')
	return parse(line), err
}

// udp sends one datagram from ns (from srcPort if not 0) and reads the answer.
func (f *fixture) udp(ns, addr string, srcPort int, timeout time.Duration) (answer, error) {
	var c *net.UDPConn
	err := kernel.Do(f.ns(ns), func() error {
		var err error
		c, err = net.DialUDP("udp4", &net.UDPAddr{Port: srcPort}, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
		return err
	})
	if err != nil {
		return answer{}, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte("hi")); err != nil {
		return answer{}, err
	}
	buf := make([]byte, 1500)
	n, err := c.Read(buf)
	return parse(string(buf[:n])), err
}

// load builds the node's ruleset from ports and loads it.
func (f *fixture) load(ports ...service.Port) *proxy.Ruleset {
	f.t.Helper()
	rs := proxy.Build(proxy.Node{Name: nodeName, IPs: []netip.Addr{netip.MustParseAddr(nodeIP)}}, ports)
	if err := f.table.Load(rs); err != nil {
		f.t.Fatal(err)
	}
	return rs
}

// counters reads the table's counters, as Inspect does for `kinn rules`.
func (f *fixture) counters() (map[string]Counter, error) {
	f.table.mu.Lock()
	defer f.table.mu.Unlock()
	kt, err := f.table.observe()
	if err != nil {
		return nil, err
	}
	return kt.counters(), nil
}

// ep is a ready endpoint on pod at :8080 (on this node unless node is set).
func ep(pod string, node ...string) service.Endpoint {
	n := nodeName
	if len(node) > 0 {
		n = node[0]
	}
	ip, ok := pods[pod]
	if !ok {
		ip = pod // an address on another node
	}
	return service.Endpoint{Namespace: "default", Pod: pod, Node: n, IP: netip.MustParseAddr(ip), Port: 8080, Ready: true, Serving: true}
}

func svc(name string, proto service.Protocol, vip string, eps ...service.Endpoint) service.Port {
	return service.Port{Namespace: "default", Service: name, Protocol: proto, ClusterIP: netip.MustParseAddr(vip), Port: 80, Endpoints: eps}
}
