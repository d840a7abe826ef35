// Package netpoltest holds upstream Kubernetes' NetworkPolicy e2e model and
// cases (test/e2e/network/netpol) as data: namespaces x, y, z with pods a,
// b, c serving TCP and UDP on 80 and 81 through named ports, the policies of
// each upstream case, and the truth tables upstream expects. The evaluator's
// tests use it now; the end-to-end test that sends real packets uses the same
// cases, so upstream, the model and the kernel are held to one table.
package netpoltest

import (
	"fmt"
	"maps"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"kinn.dev/kinn/lab/netpol"
)

// Upstream's model: three namespaces of three pods, each pod labelled
// pod=NAME, each namespace ns=NAME (and kubernetes.io/metadata.name).
var (
	NamespaceNames = []string{"x", "y", "z"}
	PodNames       = []string{"a", "b", "c"}
	Ports          = []int32{80, 81}
	Protocols      = []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP}
)

// PortName is upstream's container port name: serve-80-tcp.
func PortName(port int32, proto corev1.Protocol) string {
	return fmt.Sprintf("serve-%d-%s", port, strings.ToLower(string(proto)))
}

// A World is the model's namespaces and pods, before any case changes labels.
type World struct {
	Namespaces []netpol.Namespace
	Pods       []*netpol.Pod
}

// NewWorld builds the 3x3 model. Pods alternate between two nodes, with
// addresses from a per-node pod CIDR as kinn allocates them; a test on a
// real lab sets each pod's IP and Node to what the lab gave it before
// asking for Cases, so that the ipBlock cases use the real addresses.
func NewWorld() *World {
	w := &World{}
	i := 0
	for _, ns := range NamespaceNames {
		w.Namespaces = append(w.Namespaces, netpol.Namespace{Name: ns, Labels: map[string]string{"ns": ns}})
		for _, name := range PodNames {
			node := i%2 + 1
			w.Pods = append(w.Pods, &netpol.Pod{
				Namespace: ns, Name: name,
				Labels: map[string]string{"pod": name},
				IP:     netip.AddrFrom4([4]byte{10, 244, byte(node), byte(10 + i)}),
				Node:   fmt.Sprintf("worker%d", node),
				Ports:  containerPorts(),
			})
			i++
		}
	}
	return w
}

func containerPorts() []corev1.ContainerPort {
	var out []corev1.ContainerPort
	for _, port := range Ports {
		for _, proto := range Protocols {
			out = append(out, corev1.ContainerPort{Name: PortName(port, proto), ContainerPort: port, Protocol: proto})
		}
	}
	return out
}

// Pod returns the pod named "x/a", or nil.
func (w *World) Pod(name string) *netpol.Pod {
	for _, p := range w.Pods {
		if p.String() == name {
			return p
		}
	}
	return nil
}

// IP returns the address of pod "x/a"; cases build ipBlocks with it.
func (w *World) IP(name string) netip.Addr { return w.Pod(name).IP }

// PodStrings returns "x/a", "x/b", ... in table order.
func (w *World) PodStrings() []string {
	out := make([]string, len(w.Pods))
	for i, p := range w.Pods {
		out[i] = p.String()
	}
	return out
}

// Cluster is the world as a step of a case leaves it: its labels added and
// its policies in force.
func (w *World) Cluster(s Step) (*netpol.Cluster, error) {
	var nss []netpol.Namespace
	for _, ns := range w.Namespaces {
		nss = append(nss, netpol.Namespace{Name: ns.Name, Labels: merged(ns.Labels, s.NamespaceLabels[ns.Name])})
	}
	var pods []*netpol.Pod
	for _, p := range w.Pods {
		cp := *p
		cp.Labels = merged(p.Labels, s.PodLabels[p.String()])
		pods = append(pods, &cp)
	}
	var policies []*netpol.Policy
	for _, np := range s.Policies {
		p, err := netpol.Compile(np)
		if err != nil {
			return nil, fmt.Errorf("policy %s/%s: %w", np.Namespace, np.Name, err)
		}
		policies = append(policies, p)
	}
	return netpol.NewCluster(nss, pods, policies), nil
}

// merged adds extra to base, as upstream's AddPodLabels and
// AddNamespaceLabel do.
func merged(base, extra map[string]string) map[string]string {
	out := maps.Clone(base)
	maps.Copy(out, extra)
	return out
}
