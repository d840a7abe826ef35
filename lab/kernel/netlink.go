package kernel

import (
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// handle opens a route-netlink handle whose socket lives in the named
// namespace; it can then be used from any goroutine.
func handle(name string) (*netlink.Handle, error) {
	ns, err := openNetns(name)
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink in %s: %w", name, err)
	}
	return h, nil
}

// dumpRetries bounds retries of a dump the kernel interrupted because the
// table changed under it (as containernetworking/plugins' netlinksafe does).
const dumpRetries = 10

func retry[T any](f func() (T, error)) (T, error) {
	var v T
	var err error
	for range dumpRetries {
		v, err = f()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return v, err
		}
	}
	return v, fmt.Errorf("dump still interrupted after %d tries: %w", dumpRetries, err)
}

func linkList(h *netlink.Handle) ([]netlink.Link, error) { return retry(h.LinkList) }

func addrList(h *netlink.Handle, l netlink.Link) ([]netlink.Addr, error) {
	return retry(func() ([]netlink.Addr, error) { return h.AddrList(l, netlink.FAMILY_V4) })
}

func neighList(h *netlink.Handle, idx, family int) ([]netlink.Neigh, error) {
	return retry(func() ([]netlink.Neigh, error) { return h.NeighList(idx, family) })
}

func routeList(h *netlink.Handle) ([]netlink.Route, error) {
	return retry(func() ([]netlink.Route, error) {
		return h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	})
}
