package ipam

import (
	"fmt"
	"net/netip"
	"sort"
)

// Allocations maps a pod key (namespace/name) to its address.
type Allocations map[string]netip.Addr

// Want is one pod that needs an address from its node's CIDR.
type Want struct {
	Key  string
	CIDR netip.Prefix
}

// Assign gives every wanted pod an address. A pod keeps its previous address
// while that is still inside its node's CIDR and not claimed by another pod;
// pods not wanted any more lose theirs. New pods get the lowest free address
// after the gateway, so the result depends only on (prev, want).
func Assign(prev Allocations, want []Want) (Allocations, error) {
	out := make(Allocations, len(want))
	used := map[netip.Addr]bool{}
	var fresh []Want
	for _, w := range want {
		if a, ok := prev[w.Key]; ok && usable(w.CIDR, a) && !used[a] {
			out[w.Key] = a
			used[a] = true
			continue
		}
		fresh = append(fresh, w)
	}
	// Stable order so that two runs over the same input agree.
	sort.SliceStable(fresh, func(i, j int) bool { return fresh[i].Key < fresh[j].Key })
	next := map[netip.Prefix]netip.Addr{}
	for _, w := range fresh {
		cidr := w.CIDR.Masked()
		a, ok := next[cidr]
		if !ok {
			a = Gateway(cidr).Addr().Next()
		}
		for usable(cidr, a) && used[a] {
			a = a.Next()
		}
		if !usable(cidr, a) {
			return nil, fmt.Errorf("node CIDR %s is full: no address left for pod %s", cidr, w.Key)
		}
		out[w.Key] = a
		used[a] = true
		next[cidr] = a.Next()
	}
	return out, nil
}

// usable reports whether a can be a pod address in cidr: inside it, not the
// network address, not the gateway and not the broadcast address.
func usable(cidr netip.Prefix, a netip.Addr) bool {
	cidr = cidr.Masked()
	if !a.IsValid() || !cidr.Contains(a) {
		return false
	}
	if a == cidr.Addr() || a == Gateway(cidr).Addr() {
		return false
	}
	return a != Broadcast(cidr)
}

// Broadcast is the last address of an IPv4 prefix.
func Broadcast(p netip.Prefix) netip.Addr {
	p = p.Masked()
	b := p.Addr().AsSlice()
	host := len(b)*8 - p.Bits()
	for i := len(b) - 1; i >= 0 && host > 0; i-- {
		n := min(host, 8)
		b[i] |= byte(1<<n - 1)
		host -= n
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}
