package daemon

import (
	"errors"
	"fmt"
	"log"

	"kinn.dev/kinn/lab/kernel"
	"kinn.dev/kinn/lab/kernel/nft"
	"kinn.dev/kinn/lab/plan"
)

// nodeTables are one nftables table in every node, open for syncs and
// repairs: the proxy's and NetworkPolicy's.
type nodeTables struct {
	name   string                // the table's name
	what   string                // what it is, in log lines: "proxy"
	tables map[string]*nft.Table // by node namespace
	ids    map[string]uint64     // the namespace each table was opened in
}

func newNodeTables(name, what string) nodeTables {
	return nodeTables{name: name, what: what, tables: map[string]*nft.Table{}, ids: map[string]uint64{}}
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

// repair puts back what someone changed in the nodes' tables since they
// were last known to be right (nft.Table.Repair: one generation read per
// node when nothing changed, a full comparison when it moved). It returns
// each repair in words (also logged, for lab.log and the Events screen)
// and the nodes whose table it could not repair.
func (nt *nodeTables) repair(nodes []plan.Node) ([]string, error) {
	var lines []string
	var errs []error
	for _, n := range nodes {
		t := nt.tables[n.Netns]
		if t == nil {
			continue
		}
		d, full, err := t.Repair()
		for _, line := range d.Lines() {
			line = fmt.Sprintf("%s node %s: %s: restored", nt.what, n.Name, line)
			log.Print(line)
			lines = append(lines, line)
		}
		if full {
			log.Printf("%s %s: loaded %s", nt.what, n.Netns, nt.name) // as every load is logged
			lines = append(lines, fmt.Sprintf("%s node %s: table %s loaded again in full", nt.what, n.Name, nt.name))
		}
		if err != nil {
			err = fmt.Errorf("%s node %s: %w", nt.what, n.Name, err)
			log.Print(err)
			errs = append(errs, err)
		}
	}
	return lines, errors.Join(errs...)
}
