package daemon

import (
	"errors"
	"fmt"
	"log"

	"kinn.dev/kinn/lab/netpol/ruleset"
	"kinn.dev/kinn/lab/proxy"
)

// policies enforce NetworkPolicy in every node: the table `ip kinn-netpol`
// (lab/netpol/ruleset), synced incrementally when pods, labels or policies
// change and repaired like the proxy's table. It is independent of the
// proxy: with kubeProxyMode none the policies still hold. `kinn down`
// removes it with the node namespaces.
type policies struct{ nodeTables }

func newPolicies() *policies { return &policies{newNodeTables(ruleset.TableName, "network policy")} }

// syncPolicies builds every node's table from the lab as it is now and
// brings the kernel to it, by difference from the last sync.
func (w *world) syncPolicies() error {
	c, err := w.st.PolicyCluster()
	if err != nil {
		return err
	}
	var errs []error
	keep := map[string]bool{}
	for _, n := range w.st.Plan.Nodes {
		keep[n.Netns] = true
		if err := w.policy.sync(n.Netns, ruleset.Build(ruleset.Node{Name: n.Name}, c)); err != nil {
			errs = append(errs, fmt.Errorf("network policy node %s: %w", n.Name, err))
		}
	}
	for netns := range w.policy.tables {
		if !keep[netns] {
			w.policy.drop(netns)
		}
	}
	return errors.Join(errs...)
}

func (p *policies) sync(netns string, rs *proxy.Ruleset) error {
	t, err := p.open(netns)
	if err != nil {
		return err
	}
	full, err := t.SyncRuleset(rs)
	if err != nil {
		p.drop(netns)
		return err
	}
	if full {
		log.Printf("network policy %s: loaded %s", netns, ruleset.TableName)
	}
	return nil
}
