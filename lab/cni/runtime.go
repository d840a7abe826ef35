package cni

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"

	"kinn.dev/kinn/lab/kernel"
	"kinn.dev/kinn/lab/plan"
)

// NetworkName is the CNI network name of kinn's default configuration.
const NetworkName = "kinn"

// Runtime attaches pods through libcni, as a container runtime does: one
// configuration per node with the node's values filled in, the `ips`
// capability carrying the address kinn's IPAM chose, CNI_ARGS carrying the
// pod's identity, and libcni's result cache in the lab's state directory
// (so DEL gets the cached result as prevResult, even after a crash).
type Runtime struct {
	CacheDir string
	Log      *CallLog // every plugin call, for `kinn cni log`; nil for none
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

func (r *Runtime) config(n plan.Node) (*libcni.CNIConfig, *libcni.NetworkConfigList, error) {
	list, err := libcni.NetworkConfFromBytes(ConfList(n))
	if err != nil {
		return nil, nil, err
	}
	return libcni.NewCNIConfigWithCacheDir(pluginPath(), r.CacheDir, &nodeExec{netns: n.Netns, node: n.Name, log: r.Log}), list, nil
}

// RuntimeConf is what the runtime passes for a pod.
func RuntimeConf(p plan.Pod) *libcni.RuntimeConf {
	return &libcni.RuntimeConf{
		ContainerID: p.ContainerID,
		NetNS:       kernel.NetnsPath(p.Netns),
		IfName:      plan.PodIface,
		Args: [][2]string{
			{"K8S_POD_NAMESPACE", p.Namespace},
			{"K8S_POD_NAME", p.Name},
			{"K8S_POD_INFRA_CONTAINER_ID", p.ContainerID},
			{"K8S_POD_UID", PodUID(p)},
		},
		CapabilityArgs: map[string]any{"ips": []string{p.IP.String()}},
	}
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
	res, err := c.AddNetworkList(ctx, list, RuntimeConf(p))
	if err != nil {
		return nil, fmt.Errorf("pod %s: CNI ADD: %w", p.Key(), err)
	}
	return res, nil
}

// Del detaches a pod with the configuration it was added with (from the
// cache), falling back to the node's current one. Nothing cached means
// nothing was added: DEL is still sent, as the spec allows, and tolerated.
func (r *Runtime) Del(ctx context.Context, n plan.Node, p plan.Pod) error {
	c, list, err := r.config(n)
	if err != nil {
		return err
	}
	rt := RuntimeConf(p)
	if cached, _, err := c.GetNetworkListCachedConfig(list, rt); err == nil && cached != nil {
		if l, err := libcni.NetworkConfFromBytes(cached); err == nil {
			list = l
		}
	}
	if err := c.DelNetworkList(ctx, list, rt); err != nil {
		return fmt.Errorf("pod %s: CNI DEL: %w", p.Key(), err)
	}
	return nil
}
