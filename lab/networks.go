package lab

import (
	"encoding/json"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"kinn.dev/kinn/lab/cni"
	"kinn.dev/kinn/lab/plan"
	"kinn.dev/kinn/topology"
)

// NetworkStatus is one entry of the k8s.v1.cni.cncf.io/network-status
// annotation, as Multus writes it on a pod: one per interface, the default
// network's first.
type NetworkStatus struct {
	Name      string   `json:"name"`
	Interface string   `json:"interface"`
	IPs       []string `json:"ips,omitempty"`
	MAC       string   `json:"mac,omitempty"`
	Default   bool     `json:"default,omitempty"`
}

// networkStatus is the annotation's value for a pod with extra networks
// ("" for one without: its only network is in status.podIPs).
func networkStatus(pp plan.Pod, defaultName func() string) string {
	if len(pp.Networks) == 0 {
		return ""
	}
	st := []NetworkStatus{{Name: defaultName(), Interface: plan.PodIface, Default: true}}
	if pp.IP.IsValid() {
		st[0].IPs = []string{pp.IP.Addr().String()}
	}
	for _, nw := range pp.Networks {
		s := NetworkStatus{Name: nw.Name, Interface: nw.Interface, MAC: nw.MAC}
		for _, ip := range nw.IPs {
			s.IPs = append(s.IPs, ip.Addr().String())
		}
		st = append(st, s)
	}
	b, _ := json.Marshal(st)
	return string(b)
}

// networkName is the default network's CNI name.
func (s *State) networkName() string {
	if s.Topology.CNI == nil {
		return cni.NetworkName
	}
	ch, err := LoadChain(s.Topology)
	if err != nil {
		return ""
	}
	return ch.Name()
}

// PodNetworks reads a pod's extra networks from its network-status
// annotation (the default network left out), for `get pods -o wide` and the
// TUI.
func PodNetworks(p corev1.Pod) []NetworkStatus {
	var st []NetworkStatus
	if json.Unmarshal([]byte(p.Annotations[topology.NetworkStatusAnnotation]), &st) != nil {
		return nil
	}
	var out []NetworkStatus
	for _, s := range st {
		if !s.Default {
			out = append(out, s)
		}
	}
	return out
}

// NetworksText is a pod's extra networks on one line: net1=192.168.50.2.
func NetworksText(p corev1.Pod) string {
	var parts []string
	for _, s := range PodNetworks(p) {
		ip := "<none>"
		if len(s.IPs) > 0 {
			ip = strings.Join(s.IPs, "+")
		}
		parts = append(parts, s.Interface+"="+ip)
	}
	return strings.Join(parts, ",")
}
