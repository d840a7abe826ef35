package lab

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"

	"kinn.dev/kinn/lab/dns"
	"kinn.dev/kinn/lab/ipam"
	"kinn.dev/kinn/lab/kernel"
	"kinn.dev/kinn/lab/plan"
	"kinn.dev/kinn/topology"
)

// PodView writes the pod's resolv.conf and /etc/hosts, as the kubelet
// writes them, into the lab's runtime directory (which `kinn down`
// removes) and returns the view that shows them to the pod's processes.
func (s *State) PodView(key string) (kernel.PodView, error) {
	var tp *topology.Pod
	for i := range s.Topology.Pods {
		if s.Topology.Pods[i].Key() == key {
			tp = &s.Topology.Pods[i]
		}
	}
	pp, ok := s.planPod(key)
	if tp == nil || !ok {
		return kernel.PodView{}, fmt.Errorf("pod %s %w in lab %s", key, ErrNotFound, s.Plan.Name)
	}
	dir := filepath.Join(s.o.RuntimeDir(s.Plan.Name), "pods", plan.PodDirName(tp.Namespace, tp.Name))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return kernel.PodView{}, err
	}
	domain := s.Topology.Networking.DNSDomain
	hostResolv, _ := os.ReadFile("/etc/resolv.conf") // only the Default policy passes it on
	v := kernel.PodView{
		ResolvConf: filepath.Join(dir, "resolv.conf"),
		Hosts:      filepath.Join(dir, "hosts"),
		Hostname:   dns.Hostname(tp.Pod),
	}
	files := map[string]string{
		v.ResolvConf: dns.ResolvConf(tp.Pod, s.ClusterDNS(), domain, string(hostResolv)),
		v.Hosts:      dns.HostsFile(tp.Pod, pp.IP.Addr(), domain),
	}
	for path, text := range files {
		old, err := os.ReadFile(path)
		switch {
		case err == nil && string(old) == text:
			continue
		case err == nil:
			// In place: a running program's bind mount holds this inode,
			// and must see the pod's new address after a reattach.
			err = os.WriteFile(path, []byte(text), 0o644)
		default:
			err = ipam.WriteFileAtomic(path, []byte(text))
		}
		if err != nil {
			return kernel.PodView{}, err
		}
	}
	return v, nil
}

// ClusterDNS is the kube-dns Service's address.
func (s *State) ClusterDNS() netip.Addr { return clusterDNS(s.Topology, s.Services) }

// clusterDNS is the kube-dns Service's address among svcs, which have their
// ClusterIPs filled in.
func clusterDNS(t *topology.Lab, svcs []*corev1.Service) netip.Addr {
	for _, svc := range svcs {
		if svc.Namespace == "kube-system" && svc.Name == topology.DNSServiceName {
			if a, err := netip.ParseAddr(svc.Spec.ClusterIP); err == nil {
				return a
			}
		}
	}
	return topology.ServiceIP(t.Networking.ServiceSubnet, 10)
}

func (s *State) planPod(key string) (plan.Pod, bool) {
	for _, p := range s.Plan.Pods {
		if p.Key() == key {
			return p, true
		}
	}
	return plan.Pod{}, false
}
