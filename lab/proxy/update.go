package proxy

import (
	"net/netip"
	"reflect"
	"slices"

	"kinn.dev/kinn/lab/service"
)

// Changes is Diff(Build(node, old), Build(node, new)) computed over only the
// service ports that differ between old and new. Every name in a ruleset
// belongs either to the base (the same in both) or to one service port, and
// the shared maps' elements are per port too, so the ops for the ports that
// did not change are empty and need not be built at all: one endpoint
// change with 10,000 services loaded builds and diffs one service, not all.
func Changes(node Node, old, new []service.Port) []Op {
	before := map[string]service.Port{}
	for _, p := range old {
		before[p.Key()] = p
	}
	var was, is []service.Port
	seen := map[string]bool{}
	for _, p := range new {
		seen[p.Key()] = true
		if o, ok := before[p.Key()]; !ok || !reflect.DeepEqual(o, p) {
			is = append(is, p)
			if ok {
				was = append(was, o)
			}
		}
	}
	for _, p := range old {
		if !seen[p.Key()] {
			was = append(was, p)
		}
	}
	if len(was) == 0 && len(is) == 0 {
		return nil
	}
	// The cluster-ips set is the exception: its element is per ClusterIP,
	// which the ports of a multi-port Service share. The unchanged ports
	// sharing a changed port's ClusterIP go into both builds, so that the
	// address stays while any of its ports does (their chains are equal on
	// both sides and give no ops).
	touched := map[netip.Addr]bool{}
	for _, p := range slices.Concat(was, is) {
		touched[p.ClusterIP] = true
	}
	changed := map[string]bool{}
	for _, p := range slices.Concat(was, is) {
		changed[p.Key()] = true
	}
	for _, p := range new {
		if !changed[p.Key()] && p.ClusterIP.IsValid() && touched[p.ClusterIP] {
			was, is = append(was, p), append(is, p)
		}
	}
	return Diff(Build(node, was), Build(node, is))
}
