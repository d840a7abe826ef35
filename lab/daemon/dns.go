package daemon

import (
	"fmt"
	"log"
	"net"

	"kinn.dev/kinn/lab/dns"
	"kinn.dev/kinn/lab/kernel"
	"kinn.dev/kinn/lab/service"
	"kinn.dev/kinn/lab/workload"
)

// The cluster DNS: each kube-dns pod runs a DNS server on port 53 (UDP and
// TCP) inside its own namespace, reached through the kube-dns Service like
// CoreDNS. All of them answer from one zone, rebuilt whenever Services or
// endpoints change, so a scaled Deployment resolves as soon as its
// endpoints exist.

const dnsPort = 53

// startDNS serves DNS in a DNS pod's namespace: the sockets are opened on a
// thread inside it and stay bound there.
func (w *world) startDNS(netns string) (*dns.Server, error) {
	var pc net.PacketConn
	var ln net.Listener
	err := kernel.Do(netns, func() error {
		var err error
		if pc, err = net.ListenPacket("udp4", fmt.Sprintf(":%d", dnsPort)); err != nil {
			return err
		}
		if ln, err = net.Listen("tcp4", fmt.Sprintf(":%d", dnsPort)); err != nil {
			pc.Close()
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	srv := dns.NewServer(w.zone)
	go func() {
		if err := srv.Serve(pc, ln); err != nil {
			log.Printf("dns in %s: %v", netns, err)
		}
	}()
	return srv, nil
}

// nonDNSPorts are a DNS pod's other ports (metrics), which netexec serves.
func nonDNSPorts(ports []workload.Port) []workload.Port {
	var out []workload.Port
	for _, p := range ports {
		if p.Port != dnsPort {
			out = append(out, p)
		}
	}
	return out
}

// updateZone rebuilds the zone from the lab's Services and pods and hands
// it to every DNS server.
func (w *world) updateZone(pods []service.PodState) {
	w.zone = dns.NewZone(w.st.Topology.Networking.DNSDomain, w.st.Services, pods, w.st.Topology.EndpointSlices)
	for _, rt := range w.pods {
		if rt.dns != nil {
			rt.dns.Update(w.zone)
		}
	}
}
