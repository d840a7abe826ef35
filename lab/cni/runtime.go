package cni

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"

	"kinn.dev/kinn/lab/kernel"
	"kinn.dev/kinn/lab/plan"
)

// NetworkName is the CNI network name of kinn's default configuration.
const NetworkName = "kinn"

// Runtime attaches pods through libcni, as a container runtime does: one
// configuration per node with the node's values filled in, the `ips`,
// `ipRanges` and `portMappings` capabilities carrying the address kinn's
// IPAM chose, the node's pod CIDR and the pod's hostPorts, CNI_ARGS
// carrying the pod's identity, and libcni's result cache in the node's
// directory (so DEL gets the cached result as prevResult, even after a
// crash). Each node has its own directory, as each real node has its own
// disk: libcni's cache and host-local's reservations live there.
type Runtime struct {
	Dir   string   // one subdirectory per node
	Chain *Chain   // the user's plugin chain; nil for kinn's plugin
	Log   *CallLog // every plugin call, for `kinn cni log`; nil for none
}

// ConfList is kinn's default network configuration for one node.
func ConfList(n plan.Node) []byte {
	conf := map[string]any{
		"cniVersion": "1.1.0",
		"name":       NetworkName,
		"plugins": []map[string]any{{
			"type": PluginType, "bridge": plan.PodBridge, "mtu": n.PodMTU,
			"subnet": n.PodCIDR.String(), "gateway": n.Gateway.Addr().String(),
			"capabilities": map[string]bool{"ips": true},
		}},
	}
	b, _ := json.Marshal(conf)
	return b
}

// NodeDir is node n's directory: libcni's cache under cache/, host-local's
// reservations under networks/ (see NetworksDir); plugin binaries see it as
// their /var/lib/cni (see nodeview.go).
func (r *Runtime) NodeDir(n plan.Node) string { return filepath.Join(r.Dir, n.Name) }

func (r *Runtime) config(n plan.Node) (*libcni.CNIConfig, *libcni.NetworkConfigList, error) {
	b, paths := ConfList(n), pluginPath()
	if r.Chain != nil {
		var err error
		if b, err = r.Chain.Render(n, r.NodeDir(n)); err != nil {
			return nil, nil, err
		}
		paths = []string{r.Chain.BinDir}
		if err := WriteSubnetEnv(r.NodeDir(n), r.Chain.PodSubnet, n); err != nil {
			return nil, nil, fmt.Errorf("node %s: subnet.env: %w", n.Name, err)
		}
	}
	list, err := libcni.NetworkConfFromBytes(b)
	if err != nil {
		return nil, nil, err
	}
	exec := &nodeExec{netns: n.Netns, node: n.Name, log: r.Log, chain: r.Chain != nil, view: NewNodeView(n.Netns, r.NodeDir(n))}
	if r.Chain != nil {
		exec.callTimeout = r.Chain.Timeout
	}
	return libcni.NewCNIConfigWithCacheDir(paths, filepath.Join(r.NodeDir(n), "cache"), exec), list, nil
}

// delNetns is the namespace path a DEL gets: none for a namespace that is
// gone, as containerd sends it, which the spec allows, rather than a path
// plugins would open (or, as sbr's lock does, create as a plain file).
func delNetns(path string) string {
	if path == "" || !kernel.IsNetns(path) {
		return ""
	}
	return path
}

// RuntimeConf is what the runtime passes for a pod on node n, as
// containerd passes it (podargs.go). libcni hands each capability only to
// plugins that declare it. An annotation that cannot be read is left out
// and reported; up refuses such pods before anything (CheckPod).
func RuntimeConf(n plan.Node, p plan.Pod) (*libcni.RuntimeConf, error) {
	x, err := podArgs(p)
	caps := x.caps
	caps["ipRanges"] = [][]map[string]string{{{"subnet": n.PodCIDR.Masked().String()}}}
	if p.Want.IsValid() {
		caps["ips"] = []string{p.Want.String()}
	}
	if len(p.Ports) > 0 {
		caps["portMappings"] = p.Ports
	}
	return &libcni.RuntimeConf{
		ContainerID: p.ContainerID,
		NetNS:       kernel.NetnsPath(p.Netns),
		IfName:      plan.PodIface,
		// IgnoreUnknown first, as containerd and CRI-O send it: plugins
		// that know no K8S_* args (the reference ones) must not fail.
		Args: append([][2]string{
			{"IgnoreUnknown", "1"},
			{"K8S_POD_NAMESPACE", p.Namespace},
			{"K8S_POD_NAME", p.Name},
			{"K8S_POD_INFRA_CONTAINER_ID", p.ContainerID},
			{"K8S_POD_UID", PodUID(p)},
		}, x.args...),
		CapabilityArgs: caps,
	}, err
}

// PodUID is a stable UUID-shaped identity for the pod.
func PodUID(p plan.Pod) string {
	h := sha256.Sum256([]byte(p.ContainerID))
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// Status asks the node's plugins whether they are ready to ADD.
func (r *Runtime) Status(ctx context.Context, n plan.Node) error {
	c, list, err := r.config(n)
	if err != nil {
		return err
	}
	return c.GetStatusNetworkList(ctx, list)
}

// Add attaches a pod on node n.
func (r *Runtime) Add(ctx context.Context, n plan.Node, p plan.Pod) (types.Result, error) {
	c, list, err := r.config(n)
	if err != nil {
		return nil, err
	}
	rc, err := RuntimeConf(n, p)
	if err != nil {
		return nil, fmt.Errorf("pod %s: CNI ADD: %w", p.Key(), err)
	}
	res, err := c.AddNetworkList(ctx, list, rc)
	if err != nil {
		return nil, fmt.Errorf("pod %s: CNI ADD: %w", p.Key(), err)
	}
	return res, nil
}

// Del detaches a pod: every attachment cached for it on the node is
// DELeted with the configuration it was added with, whatever network it
// belonged to (the lab may have switched chains since). Nothing cached for
// the current network means nothing of it was added: DEL is still sent, as
// the spec allows, and plugins tolerate it.
func (r *Runtime) Del(ctx context.Context, n plan.Node, p plan.Pod) error {
	c, list, err := r.config(n)
	if err != nil {
		return err
	}
	rt, _ := RuntimeConf(n, p) // DEL frees what it can, whatever the annotations say
	rt.NetNS = delNetns(rt.NetNS)
	atts, err := c.GetCachedAttachments(p.ContainerID)
	if err != nil {
		return fmt.Errorf("pod %s: CNI cache: %w", p.Key(), err)
	}
	errs := delNetworks(ctx, c, n, p, atts) // the extra networks first, as Multus
	current := false
	for _, a := range atts {
		if a.ContainerID != p.ContainerID || a.IfName != rt.IfName {
			continue
		}
		l, err := libcni.NetworkConfFromBytes(a.Config)
		if err != nil {
			errs = append(errs, fmt.Errorf("cached configuration of network %s: %w", a.Network, err))
			continue
		}
		current = current || l.Name == list.Name
		if err := c.DelNetworkList(ctx, l, rt); err != nil {
			errs = append(errs, err)
		}
	}
	if !current {
		if err := c.DelNetworkList(ctx, list, rt); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("pod %s: CNI DEL: %w", p.Key(), err)
	}
	return nil
}

// Check asks the chain whether a pod still has what its ADD gave it,
// with the cached result as prevResult.
func (r *Runtime) Check(ctx context.Context, n plan.Node, p plan.Pod) error {
	c, list, err := r.config(n)
	if err != nil {
		return err
	}
	rc, err := RuntimeConf(n, p)
	if err == nil {
		err = c.CheckNetworkList(ctx, list, rc)
	}
	if err != nil {
		return fmt.Errorf("pod %s: CNI CHECK: %w", p.Key(), err)
	}
	return nil
}

// GC tells node n's chain which attachments are valid: libcni first DELs
// every cached attachment not among them (a pod removed while kinn was
// not looking), then plugins of 1.1.0 lists free whatever else they hold.
func (r *Runtime) GC(ctx context.Context, n plan.Node, pods []plan.Pod) error {
	c, list, err := r.config(n)
	if err != nil {
		return err
	}
	args := &libcni.GCArgs{}
	for _, p := range pods {
		args.ValidAttachments = append(args.ValidAttachments, types.GCAttachment{ContainerID: p.ContainerID, IfName: plan.PodIface})
	}
	args.ValidAttachments = append(args.ValidAttachments, validNetworks(pods)...)
	if err := c.GCNetworkList(ctx, list, args); err != nil {
		return fmt.Errorf("node %s: CNI GC: %w", n.Name, err)
	}
	// libcni collects only the list's own network; attachments of a
	// network the lab no longer uses get their DEL here.
	atts, err := c.GetCachedAttachments("")
	if err != nil {
		return fmt.Errorf("node %s: CNI cache: %w", n.Name, err)
	}
	var errs []error
	for _, a := range atts {
		if a.Network == list.Name || slices.Contains(args.ValidAttachments, types.GCAttachment{ContainerID: a.ContainerID, IfName: a.IfName}) {
			continue
		}
		l, err := libcni.NetworkConfFromBytes(a.Config)
		if err == nil {
			rt := &libcni.RuntimeConf{ContainerID: a.ContainerID, NetNS: delNetns(a.NetNS), IfName: a.IfName, Args: a.CniArgs, CapabilityArgs: a.CapabilityArgs}
			err = c.DelNetworkList(ctx, l, rt)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("DEL %s of old network %s: %w", a.ContainerID, a.Network, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("node %s: CNI GC: %w", n.Name, err)
	}
	return nil
}

// Address is the pod's address and gateway in an ADD result: the first
// IPv4 address on an interface inside the pod's sandbox (or on no
// interface in particular), and its gateway or else the default route's.
func Address(res types.Result) (netip.Prefix, netip.Addr, error) {
	r, err := current.NewResultFromResult(res)
	if err != nil {
		return netip.Prefix{}, netip.Addr{}, err
	}
	var gw netip.Addr
	for _, rt := range r.Routes {
		if ones, _ := rt.Dst.Mask.Size(); ones == 0 && rt.GW != nil {
			gw, _ = netip.AddrFromSlice(rt.GW.To4())
		}
	}
	for _, ip := range r.IPs {
		a, ok := netip.AddrFromSlice(ip.Address.IP.To4())
		if !ok {
			continue
		}
		if ip.Interface != nil && (*ip.Interface < 0 || *ip.Interface >= len(r.Interfaces) || r.Interfaces[*ip.Interface].Sandbox == "") {
			continue
		}
		ones, _ := ip.Address.Mask.Size()
		if g, ok := netip.AddrFromSlice(ip.Gateway.To4()); ok {
			gw = g
		}
		return netip.PrefixFrom(a, ones), gw, nil
	}
	return netip.Prefix{}, netip.Addr{}, fmt.Errorf("the ADD result has no IPv4 address in the pod")
}

// HostInterface names the pod's link on the node in an ADD result: the
// last interface outside any sandbox listed before the pod's own (the
// reference plugins and kinn's list bridge, host veth, then eth0; ptp
// lists host veth, then eth0). "" when the result does not say.
func HostInterface(res types.Result) string {
	r, err := current.NewResultFromResult(res)
	if err != nil {
		return ""
	}
	host := ""
	for _, i := range r.Interfaces {
		if i.Sandbox != "" {
			return host
		}
		host = i.Name
	}
	return ""
}
