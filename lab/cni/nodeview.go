package cni

// What a plugin binary sees of its node's filesystem. A real node has its
// own /var/lib/cni (host-local's reservations, flannel's saved delegate
// configurations, libcni's cache) and its own /run/flannel/subnet.env,
// written by flanneld for the node's lease. kinn's overlay is wired as
// flannel's vxlan backend (see lab/plan), so every node gets the subnet.env
// flanneld would write for it, in the node's directory, and every plugin
// binary runs with the node's directory bind-mounted on /var/lib/cni and its
// run/flannel on /run/flannel, in a mount namespace of its own (see
// kernel.StartInView): the stock kube-flannel conflist works unchanged and
// nothing of the host's /run or /var/lib is touched.

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"

	"kinn.dev/kinn/lab/ipam"
	"kinn.dev/kinn/lab/kernel"
	"kinn.dev/kinn/lab/plan"
)

// Where things are in a node's directory, which plugins see as /var/lib/cni.
const (
	dirNetworks   = "networks"    // host-local's dataDir: /var/lib/cni/networks
	dirRunFlannel = "run/flannel" // /run/flannel
)

// NetworksDir is host-local's directory of the node whose directory is nodeDir.
func NetworksDir(nodeDir string) string { return filepath.Join(nodeDir, dirNetworks) }

// SubnetFile is the node's flannel subnet.env, as the host sees it.
func SubnetFile(nodeDir string) string {
	return filepath.Join(nodeDir, dirRunFlannel, "subnet.env")
}

// SubnetEnv is what flanneld writes for a node holding a lease on
// n.PodCIDR in the cluster's podSubnet: the network, the node's subnet
// as the bridge's address (10.244.1.1/24), the pods' MTU, and
// FLANNEL_IPMASQ=true as kube-flannel runs it (--ip-masq), which tells the
// plugin that the bridge need not masquerade.
func SubnetEnv(podSubnet netip.Prefix, n plan.Node) []byte {
	return fmt.Appendf(nil, "FLANNEL_NETWORK=%s\nFLANNEL_SUBNET=%s\nFLANNEL_MTU=%d\nFLANNEL_IPMASQ=true\n",
		podSubnet.Masked(), ipam.Gateway(n.PodCIDR), n.PodMTU)
}

// NodeView is the view plugin binaries of one node run in: its network
// namespace and its directory as their /var/lib/cni and /run/flannel.
type NodeView struct {
	netns   string // the node's network namespace
	nodeDir string
}

// NewNodeView is the view of the node whose namespace is netns and whose
// directory is nodeDir.
func NewNodeView(netns, nodeDir string) NodeView { return NodeView{netns: netns, nodeDir: nodeDir} }

// WriteSubnetEnv writes the node's subnet.env unless it says that already.
func WriteSubnetEnv(nodeDir string, podSubnet netip.Prefix, n plan.Node) error {
	path, want := SubnetFile(nodeDir), SubnetEnv(podSubnet, n)
	if have, err := os.ReadFile(path); err == nil && bytes.Equal(have, want) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return ipam.WriteFileAtomic(path, want)
}

// Start starts a plugin binary in the node's network namespace and view;
// it stands for cmd.Start (the caller waits).
func (v NodeView) Start(cmd *exec.Cmd) error {
	if err := os.MkdirAll(filepath.Join(v.nodeDir, dirRunFlannel), 0o755); err != nil {
		return err
	}
	return kernel.StartInView(v.netns, []kernel.Bind{
		{Target: "/var/lib/cni", Source: v.nodeDir},
		{Target: "/run/flannel", Source: filepath.Join(v.nodeDir, dirRunFlannel)},
	}, cmd)
}
