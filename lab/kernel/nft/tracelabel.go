package nft

import (
	"fmt"

	"github.com/ti-mo/conntrack"
)

// ClearTraceLabels takes the trace's conntrack label off every entry of the
// named namespace that carries it, and says how many it cleared. Once a
// trace is over, the connections it followed (the probe's, a live
// connection that goes on) keep nothing of it: the label would mark them
// for the next trace's tables. The entries themselves stay, as they are
// the connections' own (a live one must keep its NAT).
func ClearTraceLabels(netnsName string) (int, error) {
	n := 0
	err := inConntrack(netnsName, func(c *conntrack.Conn, flows []conntrack.Flow) error {
		for _, f := range flows {
			if !hasTraceLabel(f.Labels) {
				continue
			}
			u := conntrack.Flow{TupleOrig: f.TupleOrig, TupleReply: f.TupleReply, Zone: f.Zone,
				Labels: make([]byte, len(traceLabel)), LabelsMask: traceLabel}
			if err := c.Update(u); err != nil {
				return fmt.Errorf("clear the trace label of a conntrack entry: %w", err)
			}
			n++
		}
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("conntrack of %s: %w", netnsName, err)
	}
	return n, nil
}

// hasTraceLabel reports whether a dumped label bitmap has the trace's bit.
func hasTraceLabel(labels []byte) bool {
	for i, b := range traceLabel {
		if i < len(labels) && labels[i]&b != 0 {
			return true
		}
	}
	return false
}

// TraceLabeled counts the entries of the named namespace that carry the
// trace's label (for tests: none may remain after a trace).
func TraceLabeled(netnsName string) (int, error) {
	n := 0
	err := inConntrack(netnsName, func(_ *conntrack.Conn, flows []conntrack.Flow) error {
		for _, f := range flows {
			if hasTraceLabel(f.Labels) {
				n++
			}
		}
		return nil
	})
	return n, err
}
