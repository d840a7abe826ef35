package nft

import "github.com/google/nftables/expr"

// Counter is what one nftables counter has seen.
type Counter struct {
	Packets, Bytes uint64
}

// counters are the table's counters as read back. A chain's name maps to
// its first counter, which proxy.Build puts first in the chain's first
// rule, so it counts every packet that entered the chain; "chain/comment"
// maps to each further commented rule's counter, if it has one.
func (kt *kernelTable) counters() map[string]Counter {
	out := map[string]Counter{}
	for _, name := range kt.order {
		for i, r := range kt.chains[name].rules {
			ctr, ok := counterOf(r.exprs)
			if !ok {
				continue
			}
			if i == 0 {
				out[name] = ctr
			} else if r.comment != "" {
				out[name+"/"+r.comment] = ctr
			}
		}
	}
	return out
}

func counterOf(exprs []expr.Any) (Counter, bool) {
	for _, e := range exprs {
		if c, ok := e.(*expr.Counter); ok {
			return Counter{Packets: c.Packets, Bytes: c.Bytes}, true
		}
	}
	return Counter{}, false
}

// elements counts the elements of each set and map read back; a dynamic
// set's are not read.
func (kt *kernelTable) elements() map[string]int {
	out := map[string]int{}
	for name, m := range kt.maps {
		if !m.dynamic {
			out[name] = len(m.elems)
		}
	}
	return out
}
