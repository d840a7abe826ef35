package topology

// What users write in the cluster document. kind's v1alpha4 Cluster is
// accepted as is so that existing kind configs load unchanged; the fields
// that configure containers, images or kubeadm have no meaning without
// containers and are accepted with a warning rather than rejected.
// kinn.dev/v1alpha1 is the same document plus the fields tagged kinn:"kinn".

import "time"

const (
	kindAPIVersion = "kind.x-k8s.io/v1alpha4"
	kinnAPIVersion = "kinn.dev/v1alpha1"
)

type clusterFile struct {
	Kind       string         `json:"kind"`
	APIVersion string         `json:"apiVersion"`
	Name       string         `json:"name,omitempty"`
	Nodes      []nodeFile     `json:"nodes,omitempty"`
	Networking networkingFile `json:"networking,omitempty"`
	CNI        *CNIConfig     `json:"cni,omitempty"` // kind files too, with disableDefaultCNI
	// LoadBalancer is kinn's load-balancer controller (see loadbalancer.go).
	LoadBalancer *loadBalancerFile `json:"loadBalancer,omitempty" kinn:"kinn"`

	FeatureGates                    any `json:"featureGates,omitempty" kinn:"ignore"`
	RuntimeConfig                   any `json:"runtimeConfig,omitempty" kinn:"ignore"`
	KubeadmConfigPatches            any `json:"kubeadmConfigPatches,omitempty" kinn:"ignore"`
	KubeadmConfigPatchesJSON6902    any `json:"kubeadmConfigPatchesJSON6902,omitempty" kinn:"ignore"`
	ContainerdConfigPatches         any `json:"containerdConfigPatches,omitempty" kinn:"ignore"`
	ContainerdConfigPatchesJSON6902 any `json:"containerdConfigPatchesJSON6902,omitempty" kinn:"ignore"`
}

type nodeFile struct {
	Role   string            `json:"role,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`

	Image                        any `json:"image,omitempty" kinn:"ignore"`
	ExtraMounts                  any `json:"extraMounts,omitempty" kinn:"ignore"`
	ExtraPortMappings            any `json:"extraPortMappings,omitempty" kinn:"ignore"`
	KubeadmConfigPatches         any `json:"kubeadmConfigPatches,omitempty" kinn:"ignore"`
	KubeadmConfigPatchesJSON6902 any `json:"kubeadmConfigPatchesJSON6902,omitempty" kinn:"ignore"`
}

type networkingFile struct {
	IPFamily          string `json:"ipFamily,omitempty"`
	PodSubnet         string `json:"podSubnet,omitempty"`
	ServiceSubnet     string `json:"serviceSubnet,omitempty"`
	DisableDefaultCNI bool   `json:"disableDefaultCNI,omitempty"`
	KubeProxyMode     string `json:"kubeProxyMode,omitempty"`

	APIServerAddress any `json:"apiServerAddress,omitempty" kinn:"ignore"`
	APIServerPort    any `json:"apiServerPort,omitempty" kinn:"ignore"`
	DNSSearch        any `json:"dnsSearch,omitempty" kinn:"ignore"`

	// Pointers tell "absent, use the default" from an explicit zero, which
	// is an error.
	NodeSubnet       string `json:"nodeSubnet,omitempty" kinn:"kinn"`
	NodeCIDRMaskSize *int   `json:"nodeCIDRMaskSize,omitempty" kinn:"kinn"`
	Overlay          string `json:"overlay,omitempty" kinn:"kinn"`
	VNI              *int64 `json:"vni,omitempty" kinn:"kinn"`
	VXLANPort        *int64 `json:"vxlanPort,omitempty" kinn:"kinn"`
	MTU              *int64 `json:"mtu,omitempty" kinn:"kinn"`
	DNSDomain        string `json:"dnsDomain,omitempty" kinn:"kinn"` // kubeadm's networking.dnsDomain
	// NodePortAddresses is kube-proxy's nodePortAddresses: CIDRs, or the
	// single word "primary" (the default).
	NodePortAddresses []string `json:"nodePortAddresses,omitempty" kinn:"kinn"`
}

// CNIConfig is the cni section: the user's own plugin chain instead of
// kinn's plugin. ConfList is a file (relative to the topology file) or the
// configuration list itself, inline JSON. The positions are filled in when
// the file is resolved so that problems found later (lab/cni reads and
// checks the chain) can still point into the file.
type CNIConfig struct {
	ConfList string `json:"confList,omitempty"`
	BinDir   string `json:"binDir,omitempty"`
	// Timeout bounds every plugin call ("30s"): a plugin still running
	// then is killed with its whole process group.
	Timeout string `json:"timeout,omitempty"`

	ConfListPos Pos           `json:"-"`
	BinDirPos   Pos           `json:"-"`
	Dir         string        `json:"-"` // the topology file's directory, for relative paths
	CallTimeout time.Duration `json:"-"` // Timeout, parsed, or DefaultCNITimeout
}

// DefaultCNIBinDir is where runtimes look for plugins unless told otherwise.
const DefaultCNIBinDir = "/opt/cni/bin"

// DefaultCNITimeout is the kubelet's --runtime-request-timeout, which is
// what bounds a CNI call under containerd: its CRI request carries that
// deadline down to the plugin's exec.
const DefaultCNITimeout = 2 * time.Minute
