// Package cni is both sides of the Container Network Interface for kinn:
// the runtime side, which attaches and detaches pods through libcni with its
// result cache in the lab's state directory, and kinn's own plugin, which
// wires a pod into its node's bridge the way the reference bridge plugin does.
//
// The plugin speaks the CNI JSON protocol whether it runs in-process (the
// runtime's Exec hands it exactly the stdin, environment and output a binary
// would get, on a thread inside the node's namespace) or as the `kinn` binary
// run with CNI_COMMAND set. Either way, the plugin's "host" namespace is the
// namespace it runs in: the node's, never the host's.
package cni

import (
	"encoding/json"
	"net"
	"net/netip"
	"os"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"

	"kinn.dev/kinn/lab/kernel"
	"kinn.dev/kinn/lab/plan"
)

// PluginType is the `type` of kinn's plugin in a network configuration.
const PluginType = "kinn"

// NetConf is the plugin's configuration. The node's values (bridge, subnet,
// gateway, MTU) are filled per node, as containerd fills {{.PodCIDR}}; the
// pod's address arrives through the `ips` capability (runtimeConfig.ips).
type NetConf struct {
	types.PluginConf
	Bridge        string `json:"bridge"`
	Subnet        string `json:"subnet"`
	Gateway       string `json:"gateway"`
	MTU           int    `json:"mtu"`
	RuntimeConfig struct {
		IPs []string `json:"ips,omitempty"`
	} `json:"runtimeConfig"`
	// ValidAttachments is what GC must keep (spec 1.1.0).
	ValidAttachments []types.GCAttachment `json:"cni.dev/valid-attachments,omitempty"`
}

// currentNetns is the namespace the plugin runs in, seen from its thread.
const currentNetns = "/proc/thread-self/ns/net"

func parseConf(stdin []byte) (*NetConf, error) {
	c := &NetConf{}
	if err := json.Unmarshal(stdin, c); err != nil {
		return nil, types.NewError(types.ErrDecodingFailure, "failed to parse network configuration", err.Error())
	}
	if c.Bridge == "" {
		return nil, types.NewError(types.ErrInvalidNetworkConfig, "kinn plugin needs bridge", "")
	}
	if c.Gateway == "" {
		// A conflist written for any runtime knows the subnet
		// ({{.PodCIDR}}), not the gateway: the first address, as kinn's
		// nodes and the bridge plugin's isGateway choose it.
		sub, err := netip.ParsePrefix(c.Subnet)
		if err != nil {
			return nil, types.NewError(types.ErrInvalidNetworkConfig, "kinn plugin needs gateway or subnet", err.Error())
		}
		c.Gateway = sub.Masked().Addr().Next().String()
	}
	return c, nil
}

// gatewayPrefix is the gateway with the subnet's mask, for the bridge.
func (c *NetConf) gatewayPrefix(gw netip.Addr) netip.Prefix {
	bits := 24
	if sub, err := netip.ParsePrefix(c.Subnet); err == nil {
		bits = sub.Bits()
	}
	return netip.PrefixFrom(gw, bits)
}

// Add wires the pod and returns its result.
func Add(args *skel.CmdArgs) (types.Result, error) {
	c, err := parseConf(args.StdinData)
	if err != nil {
		return nil, err
	}
	if len(c.RuntimeConfig.IPs) != 1 {
		return nil, types.NewError(types.ErrInvalidNetworkConfig, "kinn plugin needs exactly one address in runtimeConfig.ips (the ips capability)", "")
	}
	ip, err := netip.ParsePrefix(c.RuntimeConfig.IPs[0])
	if err != nil {
		return nil, types.NewError(types.ErrInvalidNetworkConfig, "bad address in runtimeConfig.ips", err.Error())
	}
	gw, err := netip.ParseAddr(c.Gateway)
	if err != nil {
		return nil, types.NewError(types.ErrInvalidNetworkConfig, "bad gateway", err.Error())
	}
	hostVeth := HostVethName(args.ContainerID)
	// In a lab of kinn's the node has the bridge already; in anyone
	// else's (kinn's plugin in a user's chain), the first ADD makes it.
	if err := kernel.EnsureBridge(currentNetns, c.Bridge, c.gatewayPrefix(gw), c.MTU); err != nil {
		return nil, types.NewError(types.ErrInternal, "bridge "+c.Bridge, err.Error())
	}
	att, err := kernel.AttachPod(kernel.Attach{
		HostNetns: currentNetns, PodNetns: args.Netns, IfName: args.IfName, HostVeth: hostVeth,
		Bridge: c.Bridge, IP: ip, Gateway: gw, MTU: c.MTU,
	})
	if err != nil {
		return nil, types.NewError(types.ErrInternal, "attach pod", err.Error())
	}
	// Built at the version this type implements, so that printing it at
	// the request's converts it (a 0.3.x result needs ips[].version).
	res := &current.Result{
		CNIVersion: current.ImplementedSpecVersion,
		Interfaces: []*current.Interface{
			{Name: c.Bridge},
			{Name: hostVeth, Mac: att.HostMAC},
			{Name: args.IfName, Mac: att.PodMAC, Sandbox: args.Netns},
		},
		IPs: []*current.IPConfig{{
			Interface: current.Int(2), Address: net.IPNet{IP: ip.Addr().AsSlice(), Mask: net.CIDRMask(ip.Bits(), 32)},
			Gateway: gw.AsSlice(),
		}},
		Routes: []*types.Route{{Dst: net.IPNet{IP: net.IPv4zero, Mask: net.CIDRMask(0, 32)}, GW: gw.AsSlice()}},
	}
	return chained(c, res)
}

// chained adds what earlier plugins of a chain reported (prevResult) in
// front of the plugin's own result, as the spec asks of a plugin that is
// not first: the runtime caches and passes on one result for the chain.
func chained(c *NetConf, own *current.Result) (types.Result, error) {
	if c.RawPrevResult == nil {
		return own, nil
	}
	if err := version.ParsePrevResult(&c.PluginConf); err != nil {
		return nil, types.NewError(types.ErrDecodingFailure, "bad prevResult", err.Error())
	}
	prev, err := current.NewResultFromResult(c.PrevResult)
	if err != nil {
		return nil, types.NewError(types.ErrDecodingFailure, "bad prevResult", err.Error())
	}
	out := *prev
	out.CNIVersion = current.ImplementedSpecVersion
	base := len(out.Interfaces)
	out.Interfaces = append(append([]*current.Interface{}, prev.Interfaces...), own.Interfaces...)
	out.IPs = append([]*current.IPConfig{}, prev.IPs...)
	for _, ip := range own.IPs {
		ip := *ip
		if ip.Interface != nil {
			ip.Interface = current.Int(*ip.Interface + base)
		}
		out.IPs = append(out.IPs, &ip)
	}
	out.Routes = append(append([]*types.Route{}, prev.Routes...), own.Routes...)
	return &out, nil
}

// Del removes the pod's veth (both ends) and the bridge's static neighbour
// entry for its address (the ips capability comes with DEL too); a pod
// already gone is not an error.
func Del(args *skel.CmdArgs) error {
	c, err := parseConf(args.StdinData)
	if err != nil {
		return err
	}
	for _, s := range c.RuntimeConfig.IPs {
		if ip, err := netip.ParsePrefix(s); err == nil {
			if err := kernel.ForgetNeighbour(currentNetns, c.Bridge, ip.Addr()); err != nil {
				return types.NewError(types.ErrInternal, "detach pod", err.Error())
			}
		}
	}
	if _, err := os.Stat(args.Netns); args.Netns == "" || err != nil {
		return nil // the pod's namespace is gone and its veth pair with it
	}
	if err := kernel.DetachPod(currentNetns, HostVethName(args.ContainerID)); err != nil {
		return types.NewError(types.ErrInternal, "detach pod", err.Error())
	}
	// The container's side too, as the reference plugins do: when its
	// peer was in a node namespace that has since been replaced, the pair
	// outlived the host veth kinn could see.
	if err := kernel.DeleteContainerLink(args.Netns, args.IfName); err != nil {
		return types.NewError(types.ErrInternal, "detach pod", err.Error())
	}
	return nil
}

// Check verifies the pod still has what ADD gave it.
func Check(args *skel.CmdArgs) error {
	c, err := parseConf(args.StdinData)
	if err != nil {
		return err
	}
	if len(c.RuntimeConfig.IPs) != 1 {
		return types.NewError(types.ErrInvalidNetworkConfig, "kinn plugin needs runtimeConfig.ips", "")
	}
	ip, _ := netip.ParsePrefix(c.RuntimeConfig.IPs[0])
	gw, _ := netip.ParseAddr(c.Gateway)
	if why := kernel.CheckPod(currentNetns, args.Netns, args.IfName, HostVethName(args.ContainerID), ip, gw); why != "" {
		return types.NewError(types.ErrInternal, "check pod", why)
	}
	return nil
}

// GC removes the bridge's pod veths that belong to no valid attachment: a
// pod whose namespace lives on but which the runtime no longer knows.
func GC(args *skel.CmdArgs) error {
	c, err := parseConf(args.StdinData)
	if err != nil {
		return err
	}
	keep := map[string]bool{}
	for _, a := range c.ValidAttachments {
		keep[HostVethName(a.ContainerID)] = true
	}
	if err := kernel.PruneVeths(currentNetns, c.Bridge, hostVethPrefix, keep); err != nil {
		return types.NewError(types.ErrInternal, "gc", err.Error())
	}
	return nil
}

// hostVethPrefix starts every host veth name the plugin makes.
const hostVethPrefix = "veth"

// Status has nothing to check beyond the configuration: the plugin needs
// no daemon and no state.
func Status(args *skel.CmdArgs) error { _, err := parseConf(args.StdinData); return err }

// Versions are the spec versions the plugin speaks.
var Versions = version.PluginSupports("0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")

// HostVethName names a pod's veth in the node (15 bytes at most).
func HostVethName(containerID string) string { return plan.HostVeth(containerID) }

// Main runs the plugin as a binary: CNI_* from the environment, the
// configuration on stdin, the result or error JSON on stdout.
func Main() {
	skel.PluginMainFuncs(skel.CNIFuncs{
		Add: func(a *skel.CmdArgs) error {
			r, err := Add(a)
			if err != nil {
				return err
			}
			c, _ := parseConf(a.StdinData)
			return types.PrintResult(r, c.CNIVersion)
		},
		Del: Del, Check: Check, GC: GC, Status: Status,
	}, Versions, "kinn: Kubernetes IN Namespaces pod network plugin")
}
