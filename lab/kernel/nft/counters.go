package nft

import (
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"

	"kinn.dev/kinn/lab/proxy"
)

// Counter is what one nftables counter has seen.
type Counter struct {
	Packets, Bytes uint64
}

// Counters reads the kinn table's counters. A chain's name maps to its
// first counter, which proxy.Build puts first in the chain's first rule, so
// it counts every packet that entered the chain; "chain/comment" maps to
// each further commented rule's counter, if it has one.
func (t *Table) Counters() (map[string]Counter, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.usable(); err != nil {
		return nil, err
	}
	chains, err := t.conn.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return nil, fmt.Errorf("list chains in %s: %w", t.netns, err)
	}
	out := map[string]Counter{}
	for _, c := range chains {
		if c.Table.Name != proxy.TableName {
			continue
		}
		rules, err := t.conn.GetRules(t.table, c)
		if err != nil {
			return nil, fmt.Errorf("list rules of %s in %s: %w", c.Name, t.netns, err)
		}
		for i, r := range rules {
			ctr, ok := counterOf(r)
			if !ok {
				continue
			}
			if i == 0 {
				out[c.Name] = ctr
			} else if comment, ok := userdata.GetString(r.UserData, userdata.TypeComment); ok {
				out[c.Name+"/"+comment] = ctr
			}
		}
	}
	return out, nil
}

func counterOf(r *nftables.Rule) (Counter, bool) {
	for _, e := range r.Exprs {
		if c, ok := e.(*expr.Counter); ok {
			return Counter{Packets: c.Packets, Bytes: c.Bytes}, true
		}
	}
	return Counter{}, false
}
