package service

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"kinn.dev/kinn/topology"
)

// svc builds a Service; opts change it.
func svc(ns, name string, opts ...func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{}
	s.Namespace, s.Name = ns, name
	s.Spec.Type = corev1.ServiceTypeClusterIP
	s.Spec.Ports = []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP}}
	for _, o := range opts {
		o(s)
	}
	return s
}

func clusterIP(ip string) func(*corev1.Service) {
	return func(s *corev1.Service) { s.Spec.ClusterIP = ip }
}

func typ(t corev1.ServiceType) func(*corev1.Service) {
	return func(s *corev1.Service) { s.Spec.Type = t }
}

func ports(ps ...corev1.ServicePort) func(*corev1.Service) {
	return func(s *corev1.Service) { s.Spec.Ports = ps }
}

func etpLocal(s *corev1.Service) {
	s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
}

var subnet = netip.MustParsePrefix("10.96.0.0/16")

func ips(kv ...string) map[string]netip.Addr {
	m := map[string]netip.Addr{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = netip.MustParseAddr(kv[i+1])
	}
	return m
}

func TestAllocateClusterIPs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		prev    map[string]netip.Addr
		subnet  string
		svcs    []*corev1.Service
		want    map[string]netip.Addr
		wantErr []string
	}{
		{
			name: "fresh ones come from the upper band in key order; headless and ExternalName get none",
			svcs: []*corev1.Service{svc("default", "b"), svc("default", "a"), svc("default", "h", clusterIP("None")),
				svc("default", "x", typ(corev1.ServiceTypeExternalName))},
			want: ips("default/a", "10.96.1.1", "default/b", "10.96.1.2"),
		},
		{
			name:   "a small subnet's band is 16 addresses",
			subnet: "10.0.0.0/24",
			svcs:   []*corev1.Service{svc("default", "a")},
			want:   ips("default/a", "10.0.0.17"),
		},
		{
			name: "given addresses are honoured, previous ones kept, removed ones released",
			prev: ips("default/a", "10.96.1.7", "default/gone", "10.96.1.1"),
			svcs: []*corev1.Service{svc("default", "a"), svc("default", "b", clusterIP("10.96.0.20")), svc("default", "c")},
			want: ips("default/a", "10.96.1.7", "default/b", "10.96.0.20", "default/c", "10.96.1.1"),
		},
		{
			name: "the cluster's own Services get the first and tenth address",
			svcs: []*corev1.Service{svc("kube-system", "kube-dns"), svc("default", "kubernetes"), svc("default", "a")},
			want: ips("default/kubernetes", "10.96.0.1", "kube-system/kube-dns", "10.96.0.10", "default/a", "10.96.1.1"),
		},
		{
			name: "a Service changing its address releases the old one",
			prev: ips("default/a", "10.96.1.1"),
			svcs: []*corev1.Service{svc("default", "a", clusterIP("10.96.0.50")), svc("default", "b")},
			want: ips("default/a", "10.96.0.50", "default/b", "10.96.1.1"),
		},
		{
			name: "reserved, taken, outside and malformed addresses are errors",
			prev: ips("default/a", "10.96.0.30"),
			svcs: []*corev1.Service{
				svc("default", "a"),
				svc("default", "b", clusterIP("10.96.0.30")),
				svc("default", "c", clusterIP("10.96.0.1")),
				svc("default", "d", clusterIP("10.97.0.1")),
				svc("default", "e", clusterIP("fd00::1")),
				svc("default", "f", clusterIP("10.96.255.255")),
				svc("default", "a"),
			},
			wantErr: []string{
				"Service default/a is listed twice; keep one",
				"Service default/b: spec.clusterIP 10.96.0.30 is already allocated to Service default/a; pick another address or remove spec.clusterIP to get a free one",
				"Service default/c: spec.clusterIP 10.96.0.1 is reserved for Service default/kubernetes; pick another address or remove spec.clusterIP to get a free one",
				"Service default/d: spec.clusterIP 10.97.0.1 is outside the serviceSubnet 10.96.0.0/16; pick another address or remove spec.clusterIP to get a free one",
				`Service default/e: spec.clusterIP "fd00::1" must be an IPv4 address, "None" for a headless Service, or left out`,
				"Service default/f: spec.clusterIP 10.96.255.255 is the broadcast address of the serviceSubnet 10.96.0.0/16; pick another address or remove spec.clusterIP to get a free one",
			},
		},
		{
			name:   "a full subnet says what to do",
			subnet: "10.0.0.0/29", // .1 reserved; .2-.6 usable
			svcs: []*corev1.Service{svc("default", "a"), svc("default", "b"), svc("default", "c"), svc("default", "d"),
				svc("default", "e"), svc("default", "f")},
			wantErr: []string{"Service default/f: the serviceSubnet 10.0.0.0/29 has no free ClusterIP left; use a larger serviceSubnet or make some Services headless (clusterIP: None)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sn := subnet
			if tt.subnet != "" {
				sn = netip.MustParsePrefix(tt.subnet)
			}
			got, err := Allocate(Allocations{ClusterIPs: tt.prev}, sn, topology.LoadBalancer{}, tt.svcs)
			checkErr(t, err, tt.wantErr)
			if err == nil && !reflect.DeepEqual(got.ClusterIPs, tt.want) {
				t.Errorf("ClusterIPs = %v, want %v", got.ClusterIPs, tt.want)
			}
		})
	}
}

func checkErr(t *testing.T, err error, want []string) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("no error, want %q", want)
	}
	if got := strings.Split(err.Error(), "\n"); !reflect.DeepEqual(got, want) {
		t.Errorf("errors:\n%s\nwant:\n%s", err, strings.Join(want, "\n"))
	}
}

func nodePort(name string, port, np int32, proto corev1.Protocol) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Port: port, NodePort: np, Protocol: proto}
}

func TestAllocateNodePorts(t *testing.T) {
	t.Parallel()
	np := typ(corev1.ServiceTypeNodePort)
	lb := typ(corev1.ServiceTypeLoadBalancer)
	tests := []struct {
		name    string
		prev    Allocations
		svcs    []*corev1.Service
		want    map[string]uint16
		wantHC  map[string]uint16
		wantErr []string
	}{
		{
			name: "given ones are kept, others come from above the lower band; ClusterIP Services get none",
			svcs: []*corev1.Service{svc("default", "web", np, ports(nodePort("http", 80, 30080, "TCP"), nodePort("https", 443, 0, "TCP"))),
				svc("default", "plain")},
			want: map[string]uint16{"default/web:http/TCP": 30080, "default/web:https/TCP": 30086},
		},
		{
			name: "previous ones are kept; TCP and UDP on one port share a node port",
			prev: Allocations{NodePorts: map[string]uint16{"default/a:/TCP": 31000, "default/gone:/TCP": 30086}},
			svcs: []*corev1.Service{svc("default", "a", np), svc("default", "dns", np,
				ports(nodePort("dns-udp", 53, 0, "UDP"), nodePort("dns-tcp", 53, 0, "TCP")))},
			want: map[string]uint16{"default/a:/TCP": 31000, "default/dns:dns-tcp/TCP": 30086, "default/dns:dns-udp/UDP": 30086},
		},
		{
			name:   "LoadBalancers with externalTrafficPolicy Local get a health check port; opting out of node ports is honoured",
			svcs:   []*corev1.Service{svc("default", "lb", lb, etpLocal), svc("default", "bare", lb, func(s *corev1.Service) { f := false; s.Spec.AllocateLoadBalancerNodePorts = &f })},
			want:   map[string]uint16{"default/lb:/TCP": 30086},
			wantHC: map[string]uint16{"default/lb": 30087},
		},
		{
			name: "a port held by another Service, out of range, or on the wrong type is an error",
			prev: Allocations{NodePorts: map[string]uint16{"default/a:/TCP": 30100}},
			svcs: []*corev1.Service{
				svc("default", "a", np),
				svc("default", "b", np, ports(nodePort("", 80, 30100, "TCP"))),
				svc("default", "c", np, ports(nodePort("", 80, 8080, "TCP"))),
				svc("default", "d", ports(nodePort("", 80, 30200, "TCP"))),
				svc("default", "e", np, etpLocal, func(s *corev1.Service) { s.Spec.HealthCheckNodePort = 30300 }),
			},
			wantErr: []string{
				"Service default/b: spec.ports[0].nodePort 30100/TCP is already allocated to Service default/a; pick another port or remove spec.ports[0].nodePort to get a free one",
				"Service default/c: spec.ports[0].nodePort 8080 must be in 30000-32767; pick a port in range or remove it to get a free one",
				"Service default/d: spec.ports[0].nodePort is only allowed for type NodePort or LoadBalancer; remove it or change spec.type",
				"Service default/e: spec.healthCheckNodePort is only allowed for type LoadBalancer with externalTrafficPolicy Local; remove it",
			},
		},
		{
			name: "the same number on another protocol is no collision",
			svcs: []*corev1.Service{svc("default", "a", np, ports(nodePort("", 53, 30053, "TCP"))), svc("default", "b", np, ports(nodePort("", 53, 30053, "UDP")))},
			want: map[string]uint16{"default/a:/TCP": 30053, "default/b:/UDP": 30053},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Allocate(tt.prev, subnet, topology.LoadBalancer{}, tt.svcs)
			checkErr(t, err, tt.wantErr)
			if err != nil {
				return
			}
			if !reflect.DeepEqual(got.NodePorts, tt.want) {
				t.Errorf("NodePorts = %v, want %v", got.NodePorts, tt.want)
			}
			if len(got.HealthCheck)+len(tt.wantHC) > 0 && !reflect.DeepEqual(got.HealthCheck, tt.wantHC) {
				t.Errorf("HealthCheck = %v, want %v", got.HealthCheck, tt.wantHC)
			}
		})
	}
}

// TestAllocateStable: feeding the result back in changes nothing, whatever
// order the Services come in.
func TestAllocateStable(t *testing.T) {
	t.Parallel()
	svcs := []*corev1.Service{
		svc("default", "a", typ(corev1.ServiceTypeNodePort)),
		svc("shop", "b", typ(corev1.ServiceTypeLoadBalancer), etpLocal),
		svc("default", "c"),
	}
	first, err := Allocate(Allocations{}, subnet, topology.LoadBalancer{}, svcs)
	if err != nil {
		t.Fatal(err)
	}
	reversed := []*corev1.Service{svcs[2], svcs[1], svcs[0]}
	for _, in := range [][]*corev1.Service{svcs, reversed} {
		again, err := Allocate(first, subnet, topology.LoadBalancer{}, in)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(again, first) {
			t.Errorf("second run = %+v, want %+v", again, first)
		}
	}
}

func TestApply(t *testing.T) {
	t.Parallel()
	in := []*corev1.Service{
		svc("default", "web", typ(corev1.ServiceTypeNodePort), func(s *corev1.Service) { s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP }),
		svc("default", "h", clusterIP("None")),
	}
	alloc, err := Allocate(Allocations{}, subnet, topology.LoadBalancer{}, in)
	if err != nil {
		t.Fatal(err)
	}
	out := Apply(in, alloc)
	web, h := out[0].Spec, out[1].Spec
	if web.ClusterIP != "10.96.1.1" || !reflect.DeepEqual(web.ClusterIPs, []string{"10.96.1.1"}) || web.Ports[0].NodePort != 30086 {
		t.Errorf("web = %+v", web)
	}
	if web.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyCluster || *web.InternalTrafficPolicy != corev1.ServiceInternalTrafficPolicyCluster ||
		*web.SessionAffinityConfig.ClientIP.TimeoutSeconds != DefaultAffinityTimeout {
		t.Errorf("web defaults = %+v", web)
	}
	if h.ClusterIP != "None" || !reflect.DeepEqual(h.ClusterIPs, []string{"None"}) {
		t.Errorf("headless = %+v", h)
	}
	if in[0].Spec.ClusterIP != "" || in[0].Spec.Ports[0].NodePort != 0 {
		t.Error("Apply changed its input")
	}
	list := ServiceList(out)
	if list.Kind != "ServiceList" || list.APIVersion != "v1" || len(list.Items) != 2 || list.Items[0].Kind != "Service" {
		t.Errorf("list = %+v", list.TypeMeta)
	}
}

func TestStores(t *testing.T) {
	t.Parallel()
	a := Allocations{
		ClusterIPs:  ips("default/a", "10.96.1.1"),
		NodePorts:   map[string]uint16{"default/a:/TCP": 30086},
		HealthCheck: map[string]uint16{"default/a": 30087},
	}
	for name, s := range map[string]Store{"file": FileStore{filepath.Join(t.TempDir(), "state", "services.json")}, "mem": &MemStore{}} {
		empty, err := s.Load()
		if err != nil || len(empty.ClusterIPs) > 0 {
			t.Fatalf("%s: Load before Save = %+v, %v; want nothing", name, empty, err)
		}
		if err := s.Save(a); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := s.Load()
		if err != nil || !reflect.DeepEqual(got, a) {
			t.Errorf("%s: Load = %+v, %v; want %+v", name, got, err, a)
		}
	}
}

// FuzzAllocate: whatever the Services ask for, what is handed out is
// unique, inside its range, and not reserved for someone else.
func FuzzAllocate(f *testing.F) {
	f.Add([]byte{1, 2, 3, 200, 7, 0, 0, 9})
	f.Fuzz(func(t *testing.T, data []byte) {
		var svcs []*corev1.Service
		for i := 0; i+1 < len(data) && i < 40; i += 2 {
			s := svc("default", fmt.Sprintf("s%d", i), typ(corev1.ServiceTypeNodePort))
			if data[i]%3 == 0 {
				s.Spec.ClusterIP = fmt.Sprintf("10.0.0.%d", data[i+1]%32)
			}
			if data[i]%5 == 0 {
				s.Spec.Ports[0].NodePort = 30000 + int32(data[i+1])
			}
			svcs = append(svcs, s)
		}
		sn := netip.MustParsePrefix("10.0.0.0/27")
		a, err := Allocate(Allocations{}, sn, topology.LoadBalancer{}, svcs)
		if err != nil {
			return
		}
		seen := map[netip.Addr]string{}
		for k, ip := range a.ClusterIPs {
			if !sn.Contains(ip) || seen[ip] != "" || ip == netip.MustParseAddr("10.0.0.1") || ip == netip.MustParseAddr("10.0.0.10") {
				t.Errorf("%s got %s (also %q)", k, ip, seen[ip])
			}
			seen[ip] = k
		}
		ports := map[uint16]bool{}
		for k, p := range a.NodePorts {
			if !inRange(p) || ports[p] {
				t.Errorf("%s got node port %d twice or out of range", k, p)
			}
			ports[p] = true
		}
	})
}
