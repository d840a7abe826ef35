package kernel

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"

	"github.com/google/nftables"
	"github.com/google/nftables/userdata"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Snapshot describes what a plugin can leave behind in a namespace, as
// sorted lines to diff: links, addresses of both families, routes of every
// table, policy rules, permanent neighbour entries (learned ones come and
// go by themselves), and nftables tables, chains with their rule counts,
// and sets with their element counts (iptables-nft lands there too).
// Values that change on their own (counters, MACs of veths made afresh,
// link indices) are left out, so that equal states give equal lines.
func Snapshot(netnsName string) ([]string, error) {
	h, err := handle(netnsName)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	links, err := linkList(h)
	if err != nil {
		return nil, err
	}
	names := indexNames(links)
	var lines []string
	for _, l := range links {
		ls, err := linkLines(h, l, names)
		if err != nil {
			return nil, err
		}
		lines = append(lines, ls...)
	}
	routes, err := retry(func() ([]netlink.Route, error) {
		return h.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	})
	if err != nil {
		return nil, fmt.Errorf("routes in %s: %w", netnsName, err)
	}
	for _, r := range routes {
		if r.Table == unix.RT_TABLE_LOCAL || r.Dst != nil && r.Dst.IP.To4() == nil && (r.Dst.IP.IsLinkLocalUnicast() || r.Dst.IP.IsMulticast()) {
			continue // the kernel's own, for the addresses and links listed anyway
		}
		lines = append(lines, fmt.Sprintf("route table %d %s via %s dev %s proto %d scope %d metric %d",
			r.Table, dst(r.Dst), r.Gw, names[r.LinkIndex], r.Protocol, r.Scope, r.Priority))
	}
	rules, err := retry(func() ([]netlink.Rule, error) { return h.RuleList(netlink.FAMILY_ALL) })
	if err != nil {
		return nil, fmt.Errorf("rules in %s: %w", netnsName, err)
	}
	for _, r := range rules {
		lines = append(lines, fmt.Sprintf("rule family %d priority %d from %s to %s table %d mark %#x iif %s oif %s",
			r.Family, r.Priority, dst(r.Src), dst(r.Dst), r.Table, r.Mark, r.IifName, r.OifName))
	}
	nft, err := nftLines(netnsName)
	if err != nil {
		return nil, err
	}
	lines = append(lines, nft...)
	sort.Strings(lines)
	return lines, nil
}

// linkLines are a link, its addresses and its permanent neighbours.
func linkLines(h *netlink.Handle, l netlink.Link, names map[int]string) ([]string, error) {
	a := l.Attrs()
	// No MTU: a bridge's follows its ports as they come and go.
	lines := []string{fmt.Sprintf("link %s type %s master %s", a.Name, l.Type(), names[a.MasterIndex])}
	addrs, err := retry(func() ([]netlink.Addr, error) { return h.AddrList(l, netlink.FAMILY_ALL) })
	if err != nil {
		return nil, fmt.Errorf("addresses of %s: %w", a.Name, err)
	}
	for _, ad := range addrs {
		if ad.IP.IsLinkLocalUnicast() && ad.IP.To4() == nil {
			continue // the kernel's own fe80::, made from a MAC that differs per veth
		}
		lines = append(lines, fmt.Sprintf("addr %s %s", a.Name, ad.IPNet))
	}
	for _, family := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		neighs, err := neighList(h, a.Index, family)
		if err != nil {
			return nil, fmt.Errorf("neighbours of %s: %w", a.Name, err)
		}
		for _, n := range neighs {
			if n.State&netlink.NUD_PERMANENT != 0 {
				lines = append(lines, fmt.Sprintf("neigh %s %s lladdr %s", a.Name, n.IP, n.HardwareAddr))
			}
		}
	}
	return lines, nil
}

func dst(n fmt.Stringer) string {
	if n == nil || fmt.Sprint(n) == "<nil>" {
		return "all"
	}
	return n.String()
}

// nftLines lists the namespace's nftables objects.
func nftLines(netnsName string) ([]string, error) {
	f, err := os.Open(NetnsPath(netnsName))
	if err != nil {
		return nil, fmt.Errorf("open namespace %s: %w", netnsName, err)
	}
	defer f.Close()
	conn, err := nftables.New(nftables.WithNetNSFd(int(f.Fd())))
	if err != nil {
		return nil, fmt.Errorf("nftables in %s: %w", netnsName, err)
	}
	tables, err := conn.ListTables()
	if err != nil {
		return nil, fmt.Errorf("nftables tables in %s: %w", netnsName, err)
	}
	var lines []string
	for _, t := range tables {
		lines = append(lines, fmt.Sprintf("nft table %d %s", t.Family, t.Name))
		sets, err := conn.GetSets(t)
		if err != nil {
			return nil, fmt.Errorf("nftables sets of %s: %w", t.Name, err)
		}
		for _, s := range sets {
			elems, err := conn.GetSetElements(s)
			if err != nil {
				return nil, fmt.Errorf("nftables set %s: %w", s.Name, err)
			}
			lines = append(lines, fmt.Sprintf("nft set %d %s %s", t.Family, t.Name, s.Name))
			for _, e := range elems {
				lines = append(lines, fmt.Sprintf("nft element %d %s %s %x %x", t.Family, t.Name, s.Name, e.Key, e.Val))
			}
		}
	}
	chains, err := conn.ListChains()
	if err != nil {
		return nil, fmt.Errorf("nftables chains in %s: %w", netnsName, err)
	}
	for _, c := range chains {
		rules, err := conn.GetRules(c.Table, c)
		if err != nil {
			return nil, fmt.Errorf("nftables rules of %s: %w", c.Name, err)
		}
		lines = append(lines, fmt.Sprintf("nft chain %d %s %s", c.Table.Family, c.Table.Name, c.Name))
		for _, r := range rules {
			lines = append(lines, fmt.Sprintf("nft rule %d %s %s %s", c.Table.Family, c.Table.Name, c.Name, ruleText(r)))
		}
	}
	return lines, nil
}

// ruleText identifies a rule by what it does, not by its handle: its
// comment, if it has one, and a digest of its expressions.
func ruleText(r *nftables.Rule) string {
	b, _ := json.Marshal(r.Exprs)
	sum := sha256.Sum256(b)
	text := fmt.Sprintf("%x", sum[:6])
	if c, ok := userdata.GetString(r.UserData, userdata.TypeComment); ok {
		text += " comment " + strconv.Quote(c)
	}
	return text
}

// DeleteNetnsLinks deletes every link of a namespace but its loopback and
// then the namespace: what the kernel does when a namespace dies, but at
// once (a namespace's own teardown runs later, in the background), so that
// the peers of its veths are gone from the node when this returns, as
// they are when a runtime finds a container's namespace gone.
func DeleteNetnsLinks(netnsName string) error {
	h, err := handle(netnsName)
	if err != nil {
		return err
	}
	links, err := linkList(h)
	if err == nil {
		for _, l := range links {
			if l.Attrs().Flags&net.FlagLoopback == 0 {
				if derr := h.LinkDel(l); derr != nil && !isNotExist(derr) {
					err = derr
				}
			}
		}
	}
	h.Close()
	if err != nil {
		return fmt.Errorf("links of %s: %w", netnsName, err)
	}
	return DeleteNetns(netnsName)
}
