package lab

import (
	"context"
	"fmt"

	"kinn.dev/kinn/lab/cni"
	"kinn.dev/kinn/lab/ipam"
	"kinn.dev/kinn/lab/plan"
	"kinn.dev/kinn/topology"
)

// ConfigError is input that cannot work, found before anything was
// created: the CLI exits 2 on it, as on a topology problem.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// checkChain loads the lab's plugin chain, if it has one, and finds what
// would make every ADD fail before anything is created.
func checkChain(ctx context.Context, t *topology.Lab) (*cni.Chain, error) {
	if err := checkPodArgs(t); err != nil {
		return nil, err
	}
	if t.CNI == nil {
		return nil, nil
	}
	chain, err := LoadChain(t)
	if err != nil {
		return nil, &ConfigError{err}
	}
	nw := t.Networking
	cidrs, err := ipam.NodeCIDRs(nw.PodSubnet, nw.NodeCIDRMaskSize, len(t.Nodes))
	if err != nil {
		return nil, err
	}
	if err := chain.Check(ctx, plan.Node{Name: t.Nodes[0].Name, PodCIDR: cidrs[0], Gateway: ipam.Gateway(cidrs[0])}); err != nil {
		return nil, &ConfigError{fmt.Errorf("cni: %w", err)}
	}
	return chain, nil
}

// recordedChain is the chain of a lab as last brought up; nil when it has
// none or it cannot be read any more (its file is gone): down then removes
// the namespaces without DEL, which loses nothing, the lab's state
// directory holding whatever the plugins kept.
func recordedChain(o Options, name string) *cni.Chain {
	st, err := Load(o, name)
	if err != nil || st.Topology.CNI == nil {
		return nil
	}
	chain, err := LoadChain(st.Topology)
	if err != nil {
		o.progress("  warning: %v", err)
		return nil
	}
	return chain
}

// LoadChain loads the lab's chain with the cluster's values its templates
// and flannel's subnet.env need.
func LoadChain(t *topology.Lab) (*cni.Chain, error) {
	chain, err := cni.LoadChain(t.CNI)
	if err != nil {
		return nil, err
	}
	chain.PodSubnet, chain.ServiceSubnet = t.Networking.PodSubnet, t.Networking.ServiceSubnet
	return chain, nil
}
