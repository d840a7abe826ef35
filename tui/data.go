package tui

import (
	"context"
	"time"

	"kinn.dev/kinn/lab"
	"kinn.dev/kinn/lab/cni"
	"kinn.dev/kinn/lab/trace"
)

// Snapshot is the lab at one moment, as the Cluster screen shows it.
type Snapshot struct {
	Lab      string
	Nodes    []NodeInfo
	Pods     []PodInfo
	Services []ServiceInfo
	Taken    time.Time
	// Unknown says no lab process answered: nobody knows which pods are
	// ready or which endpoints serve, and the screens show "?" for them.
	Unknown bool
}

// NodeInfo is one node.
type NodeInfo struct {
	Name, Role, IP, PodCIDR, VTEPMAC string
	Gateway                          string // its bridge's address: where the kubelet's probes come from
	Ready                            bool
	Reason                           string // why it is not ready, in the kubelet's words
}

// PodInfo is one pod.
type PodInfo struct {
	Namespace, Name, Node, IP string
	Ready, Terminating        bool
	Ports                     []string // "8080/TCP"
	Reason                    string   // why it is not running, if it is not
	Networks                  string   // extra networks (Multus's annotation): "net1=192.168.50.2"
}

// ServiceInfo is one Service.
type ServiceInfo struct {
	Namespace, Name, Type, ClusterIP string
	Ports                            []string // kubectl's "80:30080/TCP"
	ExternalIPs                      []string // externalIPs and load-balancer addresses
	ReadyEndpoints, TotalEndpoints   int
}

// Rate is one link's traffic, as the Traffic screen shows it.
type Rate struct {
	Name    string // pod namespace/name, or node/device
	Kind    string // pod, uplink, vxlan, bridge
	Node    string
	RxBps   float64
	TxBps   float64
	RxPps   float64
	TxPps   float64
	History []float64 // bytes/s (rx+tx), oldest first, one a second, at most 60
}

// Flow is one connection from conntrack, as the Flows screen shows it.
type Flow struct {
	Node     string
	Proto    string
	Client   string // ip:port
	Service  string // VIP:port as the client addressed it
	SvcName  string // namespace/name of the Service, when the lab's rules know it
	Endpoint string // ip:port after DNAT ("" when not NATed)
	State    string
	Bytes    uint64
	Started  time.Time
	New      bool // seen for the first time in the last frame
}

// Event is one line of the Events screen.
type Event struct {
	Time    time.Time
	Kind    string // pod, endpoints, drift, cni
	Message string
	Call    *cni.Call // the CNI call, in full, for kind cni
}

// Source is where the screens' data comes from: the real lab (collectors
// running in the background against the kernel and the lab process) or a
// fixed fake in tests. Every method may be slow; the UI calls them only
// from commands, never from Update.
type Source interface {
	Snapshot(ctx context.Context) (*Snapshot, error)
	Rates(ctx context.Context) ([]Rate, error)
	Flows(ctx context.Context) ([]Flow, error)
	Rules(ctx context.Context, node string) (*lab.RulesView, error)
	Events(ctx context.Context) ([]Event, error)
	// Describe is a pod's `kinn describe pod` text.
	Describe(ctx context.Context, namespace, pod string) (string, error)
	// Actions, through the same code as the CLI verbs.
	SendRequests(ctx context.Context, fromPod, service string, n int) (map[string]int, error)
	Scale(ctx context.Context, namespace, deployment string, replicas int) error
	SetReady(ctx context.Context, namespace, pod string, ready bool) error
	DeletePod(ctx context.Context, namespace, pod string) error
	// Trace sends one probe and tells its journey and its title, as `kinn
	// trace` does. It removes its trace tables before it returns, also
	// when ctx ends first.
	Trace(ctx context.Context, r lab.TraceRequest) (trace.Journey, string, error)
}
