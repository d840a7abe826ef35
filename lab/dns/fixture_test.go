package dns

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"kinn.dev/kinn/lab/service"
)

// Builders for the objects the lab hands NewZone.

type svcOpt func(*corev1.Service)

func newSvc(ns, name, clusterIP string, opts ...svcOpt) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: clusterIP},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func selecting(app string) svcOpt {
	return func(s *corev1.Service) { s.Spec.Selector = map[string]string{"app": app} }
}

func ports(ps ...corev1.ServicePort) svcOpt {
	return func(s *corev1.Service) { s.Spec.Ports = ps }
}

func publishNotReady(s *corev1.Service) { s.Spec.PublishNotReadyAddresses = true }

func externalName(target string) svcOpt {
	return func(s *corev1.Service) { s.Spec.Type, s.Spec.ExternalName = corev1.ServiceTypeExternalName, target }
}

func svcPort(name string, proto corev1.Protocol, port int32, target intstr.IntOrString) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Protocol: proto, Port: port, TargetPort: target}
}

type podOpt func(*service.PodState)

func newPod(ns, name, app, ip string, opts ...podOpt) service.PodState {
	p := service.PodState{
		Pod: &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"app": app}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c"}}},
		},
		Ready: true,
	}
	if ip != "" {
		p.IP = netip.MustParseAddr(ip)
	}
	for _, o := range opts {
		o(&p)
	}
	return p
}

func notReady(p *service.PodState)    { p.Ready = false }
func terminating(p *service.PodState) { p.Terminating = true }

func hostnamed(hostname, subdomain string) podOpt {
	return func(p *service.PodState) { p.Pod.Spec.Hostname, p.Pod.Spec.Subdomain = hostname, subdomain }
}

func containerPort(name string, port int32) podOpt {
	return func(p *service.PodState) {
		c := &p.Pod.Spec.Containers[0]
		c.Ports = append(c.Ports, corev1.ContainerPort{Name: name, ContainerPort: port, Protocol: corev1.ProtocolTCP})
	}
}

// labZone is a small cluster with one of every kind of Service.
func labZone() *Zone {
	svcs := []*corev1.Service{
		newSvc("default", "web", "10.96.0.20", selecting("web"), ports(
			svcPort("http", corev1.ProtocolTCP, 80, intstr.FromString("http")),
			svcPort("dns", corev1.ProtocolUDP, 53, intstr.FromInt32(5353)),
		)),
		// pg is a named targetPort only db-0 has; metrics defaults to its port.
		newSvc("default", "db", "None", selecting("db"), ports(
			svcPort("pg", corev1.ProtocolTCP, 5432, intstr.FromString("pg")),
			svcPort("metrics", "", 9187, intstr.IntOrString{}),
		)),
		newSvc("default", "lazy", "None", selecting("lazy"), publishNotReady, ports(svcPort("", corev1.ProtocolTCP, 9000, intstr.FromInt32(9000)))),
		newSvc("default", "empty", "None", selecting("nobody")),
		newSvc("default", "ext", "", externalName("example.com")),
		newSvc("default", "alias", "", externalName("web.default.svc.cluster.local")),
		newSvc("default", "dangling", "", externalName("missing.default.svc.cluster.local")),
		newSvc("default", "loop-a", "", externalName("loop-b.default.svc.cluster.local.")),
		newSvc("default", "loop-b", "", externalName("Loop-A.default.svc.cluster.local.")),
		newSvc("kube-system", "kube-dns", "10.96.0.10", ports(
			svcPort("dns", corev1.ProtocolUDP, 53, intstr.FromInt32(53)),
			svcPort("dns-tcp", corev1.ProtocolTCP, 53, intstr.FromInt32(53)),
		)),
		newSvc("team", "api", "10.96.0.30", ports(svcPort("http", corev1.ProtocolTCP, 8080, intstr.FromInt32(8080)))),
	}
	pods := []service.PodState{
		newPod("default", "web-1", "web", "10.244.1.5", containerPort("http", 8080)),
		newPod("default", "web-2", "web", "10.244.2.5", containerPort("http", 8081)),
		newPod("default", "web-3", "web", "10.244.2.6", notReady, containerPort("http", 8080)),
		newPod("default", "db-0", "db", "10.244.1.10", hostnamed("db-0", "db"), containerPort("pg", 15432)),
		newPod("default", "db-1", "db", "10.244.2.11", hostnamed("db-1", "elsewhere")),
		newPod("default", "db-2", "db", "10.244.1.12", notReady),
		newPod("default", "db-3", "db", "10.244.1.13", terminating),
		newPod("default", "db-4", "db", ""),
		newPod("other", "db-9", "db", "10.244.3.9"),
		newPod("default", "lazy-0", "lazy", "10.244.1.20", notReady),
	}
	return NewZone("", svcs, pods, nil)
}

func query(name string, qtype uint16) *dns.Msg {
	return new(dns.Msg).SetQuestion(name, qtype)
}

// texts renders records as one-line strings with single spaces, so tests
// compare whole records.
func texts(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		if rr.Header().Rrtype == dns.TypeOPT {
			continue
		}
		out = append(out, strings.Join(strings.Fields(rr.String()), " "))
	}
	return out
}

// soaOwner is the owner of the SOA in the authority section, "" if none.
func soaOwner(t *testing.T, m *dns.Msg) string {
	t.Helper()
	if len(m.Ns) == 0 {
		return ""
	}
	soa, ok := m.Ns[0].(*dns.SOA)
	if !ok || len(m.Ns) != 1 {
		t.Fatalf("authority section %v, want one SOA", m.Ns)
	}
	if soa.Minttl != ttl || soa.Hdr.Ttl != ttl || soa.Ns != "ns.dns."+soa.Hdr.Name {
		t.Errorf("SOA %v: want ttl and minimum %d, ns.dns.%s", soa, ttl, soa.Hdr.Name)
	}
	return soa.Hdr.Name
}
