package daemon

import (
	"kinn.dev/kinn/lab/kernel"
	"kinn.dev/kinn/lab/kernel/nft"
	"kinn.dev/kinn/lab/plan"
)

// nodeTables are one nftables table in every node, open for syncs and
// repairs: the proxy's and NetworkPolicy's.
type nodeTables struct {
	name   string                // the table's name
	tables map[string]*nft.Table // by node namespace
	ids    map[string]uint64     // the namespace each table was opened in
}

func newNodeTables(name string) nodeTables {
	return nodeTables{name: name, tables: map[string]*nft.Table{}, ids: map[string]uint64{}}
}

// open returns the node's table, opened anew when its namespace is new
// (recreated by `kinn up` after someone deleted it).
func (nt *nodeTables) open(netns string) (*nft.Table, error) {
	t := nt.tables[netns]
	if t != nil && kernel.NetnsID(netns) == nt.ids[netns] {
		return t, nil
	}
	nt.drop(netns)
	t, err := nft.OpenTable(netns, nt.name)
	if err != nil {
		return nil, err
	}
	nt.tables[netns], nt.ids[netns] = t, kernel.NetnsID(netns)
	return t, nil
}

// recreated reports whether a node's table must be opened and loaded
// anew: its namespace was recreated (by `kinn up`, after someone deleted
// it), so the table kinn holds is in the old one, or the last sync could
// not make it.
func (nt *nodeTables) recreated(nodes []plan.Node) bool {
	for _, n := range nodes {
		if nt.tables[n.Netns] == nil || kernel.NetnsID(n.Netns) != nt.ids[n.Netns] {
			return true
		}
	}
	return false
}

// drop closes a node's table and forgets it. A closed table must never be
// found again: once its namespace is freed, a namespace made anew under the
// same name can get the same inode number, so the ids check would take the
// closed table for current.
func (nt *nodeTables) drop(netns string) {
	if t := nt.tables[netns]; t != nil {
		t.Close()
	}
	delete(nt.tables, netns)
	delete(nt.ids, netns)
}

// closeAll closes every table, leaving them in the kernel.
func (nt *nodeTables) closeAll() {
	for netns := range nt.tables {
		nt.drop(netns)
	}
}
