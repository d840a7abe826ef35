package cni

// A pod's extra networks, as Multus attaches them: after the default
// network, each NetworkAttachmentDefinition's configuration is ADDed with
// its own interface name (net1, net2…) and no capabilities (Multus passes
// only what the annotation asks for); DEL goes in reverse order, before the
// default network's. Their plugins are found where the default chain's are.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"

	"kinn.dev/kinn/lab/plan"
)

// networkList is an attachment's configuration as a list: a single
// plugin's configuration becomes a list of one, and host-local gets the
// node's directory as for the default chain.
func networkList(config, nodeDir string) (*libcni.NetworkConfigList, error) {
	var m map[string]any
	if err := json.Unmarshal([]byte(config), &m); err != nil {
		return nil, err
	}
	fillDataDir(m, NetworksDir(nodeDir))
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	if _, ok := m["plugins"]; ok {
		return libcni.NetworkConfFromBytes(b)
	}
	conf, err := libcni.ConfFromBytes(b)
	if err != nil {
		return nil, err
	}
	return libcni.ConfListFromConf(conf)
}

// AddNetworks attaches a pod's extra networks, in order, and returns them
// with what each ADD gave. The caller DELs the pod on error.
func (r *Runtime) AddNetworks(ctx context.Context, n plan.Node, p plan.Pod) ([]plan.Network, error) {
	if len(p.Networks) == 0 {
		return nil, nil
	}
	c, _, err := r.config(n)
	if err != nil {
		return nil, err
	}
	out := slices.Clone(p.Networks)
	for i := range out {
		nw := &out[i]
		list, err := networkList(nw.Config, r.NodeDir(n))
		if err != nil {
			return nil, fmt.Errorf("pod %s: network %s: %w", p.Key(), nw.Name, err)
		}
		res, err := c.AddNetworkList(ctx, list, networkConf(n, p, nw.Interface))
		if err != nil {
			return nil, fmt.Errorf("pod %s: network %s (%s): CNI ADD: %w", p.Key(), nw.Name, nw.Interface, err)
		}
		nw.IPs, nw.MAC = addressesOn(res, nw.Interface)
	}
	return out, nil
}

// networkConf is the runtime configuration of an extra network.
func networkConf(n plan.Node, p plan.Pod, ifName string) *libcni.RuntimeConf {
	rt, _ := RuntimeConf(n, p) // the default network's ADD refused bad annotations first
	rt.IfName, rt.CapabilityArgs = ifName, nil
	return rt
}

// addressesOn are the addresses and MAC a result gives the pod's interface
// ifName.
func addressesOn(res types.Result, ifName string) ([]netip.Prefix, string) {
	r, err := current.NewResultFromResult(res)
	if err != nil {
		return nil, ""
	}
	mac := ""
	for _, i := range r.Interfaces {
		if i.Name == ifName && i.Sandbox != "" {
			mac = i.Mac
		}
	}
	var ips []netip.Prefix
	for _, ip := range r.IPs {
		if ip.Interface != nil && (*ip.Interface < 0 || *ip.Interface >= len(r.Interfaces) || r.Interfaces[*ip.Interface].Name != ifName) {
			continue
		}
		if a, ok := netip.AddrFromSlice(ip.Address.IP); ok {
			ones, _ := ip.Address.Mask.Size()
			ips = append(ips, netip.PrefixFrom(a.Unmap(), ones))
		}
	}
	return ips, mac
}

// delNetworks DELs every extra attachment cached for the pod, the last
// added first, each with the configuration it was added with.
func delNetworks(ctx context.Context, c *libcni.CNIConfig, n plan.Node, p plan.Pod, atts []*libcni.NetworkAttachment) []error {
	order := map[string]int{}
	for i, nw := range p.Networks {
		order[nw.Interface] = i + 1
	}
	var extra []*libcni.NetworkAttachment
	for _, a := range atts {
		if a.ContainerID == p.ContainerID && a.IfName != plan.PodIface {
			extra = append(extra, a)
		}
	}
	slices.SortStableFunc(extra, func(a, b *libcni.NetworkAttachment) int { return order[b.IfName] - order[a.IfName] })
	var errs []error
	for _, a := range extra {
		l, err := libcni.NetworkConfFromBytes(a.Config)
		if err == nil {
			rc := networkConf(n, p, a.IfName)
			rc.NetNS = delNetns(rc.NetNS)
			err = c.DelNetworkList(ctx, l, rc)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("network %s (%s): %w", a.Network, a.IfName, err))
		}
	}
	return errs
}

// CarryNetworks gives the networks of a new plan's pod what the old plan's
// ADDs gave the same networks.
func CarryNetworks(nws, old []plan.Network) {
	for i := range nws {
		for _, o := range old {
			if o.Name == nws[i].Name && o.Interface == nws[i].Interface && o.Config == nws[i].Config {
				nws[i].IPs, nws[i].MAC = o.IPs, o.MAC
			}
		}
	}
}

// validNetworks are the pods' extra attachments GC must keep.
func validNetworks(pods []plan.Pod) []types.GCAttachment {
	var out []types.GCAttachment
	for _, p := range pods {
		for _, nw := range p.Networks {
			out = append(out, types.GCAttachment{ContainerID: p.ContainerID, IfName: nw.Interface})
		}
	}
	return out
}
