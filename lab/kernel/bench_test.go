package kernel

import (
	"fmt"
	"net"
	"net/netip"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"kinn.dev/kinn/lab/kernel/kerneltest"
)

// BenchmarkRawPods is the floor kinn is measured against: the bare kernel
// work for 1,000 pods on 20 nodes — a namespace per node and pod, and per
// pod a veth into its node, an address and link up; nothing else (no
// bridge, routes, CNI, state). Sequential, as the reference figure was.
func BenchmarkRawPods(b *testing.B) {
	const nodes, perNode = 20, 50
	for b.Loop() {
		prefix := kerneltest.NewLab(b, "raw").NetnsPrefix()
		for n := range nodes {
			node := fmt.Sprintf("%snode%d", prefix, n)
			if _, err := CreateNetns(node); err != nil {
				b.Fatal(err)
			}
			h, err := handle(node)
			if err != nil {
				b.Fatal(err)
			}
			for p := range perNode {
				pod := fmt.Sprintf("%spod%d-%d", prefix, n, p)
				if err := rawPod(h, pod, netip.AddrFrom4([4]byte{10, 244, byte(n), byte(p + 2)})); err != nil {
					b.Fatal(err)
				}
			}
			h.Close()
		}
		b.StopTimer()
		names, _ := ListNetns(prefix)
		for _, n := range names {
			DeleteNetns(n)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N)/float64(nodes*perNode), "ms/pod")
}

func rawPod(node *netlink.Handle, name string, ip netip.Addr) error {
	if _, err := CreateNetns(name); err != nil {
		return err
	}
	ns, err := netns.GetFromPath(NetnsPath(name))
	if err != nil {
		return err
	}
	defer ns.Close()
	host := "v" + fmt.Sprintf("%x", ip.As4())
	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: host, Flags: net.FlagUp}, PeerName: "eth0", PeerNamespace: netlink.NsFd(int(ns))}
	if err := node.LinkAdd(v); err != nil {
		return err
	}
	ph, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return err
	}
	defer ph.Close()
	l, err := ph.LinkByName("eth0")
	if err != nil {
		return err
	}
	if err := ph.AddrAdd(l, &netlink.Addr{IPNet: ipnet(netip.PrefixFrom(ip, 24))}); err != nil {
		return err
	}
	return ph.LinkSetUp(l)
}
