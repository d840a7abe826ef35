package kernel

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"kinn.dev/kinn/lab/plan"
)

// ObserveNode reads a node namespace's state in the plan's terms: the
// sysctls kinn sets, every link with its addresses, the permanent neighbour
// and FDB entries of VXLAN devices, and the main table's non-kernel routes.
func ObserveNode(n plan.Node) (plan.NodeState, error) {
	st := plan.NodeState{Sysctls: map[string]string{}, Links: map[string]plan.LinkState{}}
	err := Do(n.Netns, func() error {
		for _, s := range n.Sysctls {
			b, err := os.ReadFile(filepath.Join("/proc/sys", s.Key))
			if err != nil {
				return err
			}
			st.Sysctls[s.Key] = strings.TrimSpace(string(b))
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	h, err := handle(n.Netns)
	if err != nil {
		return st, err
	}
	defer h.Close()
	links, err := linkList(h)
	if err != nil {
		return st, err
	}
	names := map[int]string{}
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	for _, l := range links {
		ls, err := observeLink(h, l, names)
		if err != nil {
			return st, err
		}
		st.Links[ls.Name] = ls
		if ls.Kind == plan.KindVXLAN || ls.Name == plan.NodeUplink {
			if err := observeOverlay(h, l, &st); err != nil {
				return st, err
			}
		}
	}
	routes, err := routeList(h)
	if err != nil {
		return st, err
	}
	for _, r := range routes {
		if r.Protocol == unix.RTPROT_KERNEL || r.Dst == nil {
			continue
		}
		st.Routes = append(st.Routes, plan.Route{
			Dst: prefix(r.Dst), Gw: addr(r.Gw), Dev: names[r.LinkIndex], Onlink: r.Flags&int(netlink.FLAG_ONLINK) != 0,
		})
	}
	return st, nil
}

func observeLink(h *netlink.Handle, l netlink.Link, names map[int]string) (plan.LinkState, error) {
	a := l.Attrs()
	ls := plan.LinkState{
		Link: plan.Link{Name: a.Name, MTU: a.MTU, MAC: a.HardwareAddr.String()},
		Up:   a.Flags&net.FlagUp != 0, Master: names[a.MasterIndex],
	}
	switch v := l.(type) {
	case *netlink.Bridge:
		ls.Kind = plan.KindBridge
	case *netlink.Veth:
		ls.Kind = plan.KindVeth
	case *netlink.Vxlan:
		ls.Kind = plan.KindVXLAN
		local, _ := netip.AddrFromSlice(v.SrcAddr.To4())
		ls.VXLAN = &plan.VXLAN{VNI: uint32(v.VxlanId), Port: uint16(v.Port), Local: local, Dev: names[v.VtepDevIndex]}
		if v.Learning {
			ls.VXLAN.Dev += " (learning on)" // never equal to the plan: forces a rebuild
		}
	default:
		if a.Name == "lo" {
			ls.Kind = plan.KindLoop
		} else {
			ls.Kind = plan.LinkKind(l.Type())
		}
	}
	addrs, err := addrList(h, l)
	if err != nil {
		return ls, err
	}
	for _, ad := range addrs {
		if ls.Kind != plan.KindLoop {
			ls.Addrs = append(ls.Addrs, prefix(ad.IPNet))
		}
	}
	return ls, nil
}

func observeOverlay(h *netlink.Handle, l netlink.Link, st *plan.NodeState) error {
	name := l.Attrs().Name
	neighs, err := neighList(h, l.Attrs().Index, netlink.FAMILY_V4)
	if err != nil {
		return err
	}
	for _, n := range neighs {
		if n.State&netlink.NUD_PERMANENT != 0 {
			st.Neigh = append(st.Neigh, plan.Neigh{Dev: name, IP: addr(n.IP), MAC: n.HardwareAddr.String()})
		}
	}
	if _, ok := l.(*netlink.Vxlan); !ok {
		return nil
	}
	fdb, err := neighList(h, l.Attrs().Index, unix.AF_BRIDGE)
	if err != nil {
		return err
	}
	for _, f := range fdb {
		if f.State&netlink.NUD_PERMANENT != 0 && f.IP != nil {
			st.FDB = append(st.FDB, plan.FDB{Dev: name, MAC: f.HardwareAddr.String(), Dst: addr(f.IP)})
		}
	}
	return nil
}

func prefix(n *net.IPNet) netip.Prefix {
	if n == nil {
		return netip.Prefix{}
	}
	a := addr(n.IP)
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a, ones)
}

func addr(ip net.IP) netip.Addr {
	if ip == nil {
		return netip.Addr{}
	}
	if v4 := ip.To4(); v4 != nil {
		ip = v4
	}
	a, _ := netip.AddrFromSlice(ip)
	return a
}

func ipnet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func isNotExist(err error) bool {
	var lnf netlink.LinkNotFoundError
	return errors.As(err, &lnf) || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ESRCH)
}
