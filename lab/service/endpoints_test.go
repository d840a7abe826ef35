package service

import (
	"net/netip"
	"reflect"
	"regexp"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// pod builds a ready pod labelled app=web on node n1 with a container port
// named "http" on the given number (none when 0).
func pod(name, ip string, http int32, opts ...func(*PodState)) PodState {
	p := &corev1.Pod{}
	p.Namespace, p.Name, p.Labels = "default", name, map[string]string{"app": "web"}
	c := corev1.Container{Name: "c"}
	if http != 0 {
		c.Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: http, Protocol: corev1.ProtocolTCP}}
	}
	p.Spec.Containers = []corev1.Container{c}
	s := PodState{Pod: p, IP: netip.MustParseAddr(ip), Node: "n1", Ready: true}
	for _, o := range opts {
		o(&s)
	}
	return s
}

func notReady(p *PodState)    { p.Ready = false }
func terminating(p *PodState) { p.Terminating = true }

// web is an allocated Service selecting app=web with a named and a
// numbered port.
func web(opts ...func(*corev1.Service)) *corev1.Service {
	s := svc("default", "web", clusterIP("10.96.1.1"), func(s *corev1.Service) {
		s.Spec.Selector = map[string]string{"app": "web"}
		s.Spec.Ports = []corev1.ServicePort{
			{Name: "http", Port: 80, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP},
			{Name: "metrics", Port: 9090, TargetPort: intstr.FromInt32(9100), Protocol: corev1.ProtocolTCP},
		}
	})
	for _, o := range opts {
		o(s)
	}
	return s
}

type ep struct {
	pod                         string
	port                        uint16
	ready, serving, terminating bool
}

func endpointsOf(p Port) []ep {
	var out []ep
	for _, e := range p.Endpoints {
		out = append(out, ep{e.Pod, e.Port, e.Ready, e.Serving, e.Terminating})
	}
	return out
}

func TestPorts(t *testing.T) {
	t.Parallel()
	pods := []PodState{
		pod("b", "10.244.1.3", 8081),
		pod("a", "10.244.1.2", 8080),
		pod("nameless", "10.244.1.4", 0),
		pod("unready", "10.244.1.5", 8080, notReady),
		pod("leaving", "10.244.1.6", 8080, terminating),
		pod("no-ip", "10.244.1.7", 8080, func(p *PodState) { p.IP = netip.Addr{} }),
		pod("other-ns", "10.244.1.8", 8080, func(p *PodState) { p.Pod.Namespace = "shop" }),
		pod("other-app", "10.244.1.9", 8080, func(p *PodState) { p.Pod.Labels = map[string]string{"app": "db"} }),
		pod("udp", "10.244.1.10", 0, func(p *PodState) {
			p.Pod.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolUDP}}
		}),
	}
	tests := []struct {
		name string
		svc  *corev1.Service
		want map[string][]ep // by port name
	}{
		{
			name: "named ports resolve per pod; conditions as the controller sets them",
			svc:  web(),
			want: map[string][]ep{
				"http": {{"a", 8080, true, true, false}, {"b", 8081, true, true, false}, {"leaving", 8080, false, true, true},
					{"unready", 8080, false, false, false}},
				"metrics": {{"a", 9100, true, true, false}, {"b", 9100, true, true, false}, {"leaving", 9100, false, true, true},
					{"nameless", 9100, true, true, false}, {"udp", 9100, true, true, false}, {"unready", 9100, false, false, false}},
			},
		},
		{
			name: "publishNotReadyAddresses makes every endpoint ready, not serving",
			svc:  web(func(s *corev1.Service) { s.Spec.PublishNotReadyAddresses = true; s.Spec.Ports = s.Spec.Ports[:1] }),
			want: map[string][]ep{
				"http": {{"a", 8080, true, true, false}, {"b", 8081, true, true, false}, {"leaving", 8080, true, true, true},
					{"unready", 8080, true, false, false}},
			},
		},
		{
			name: "no selector, no endpoints",
			svc:  web(func(s *corev1.Service) { s.Spec.Selector = nil; s.Spec.Ports = s.Spec.Ports[:1] }),
			want: map[string][]ep{"http": nil},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := map[string][]ep{}
			for _, p := range Ports([]*corev1.Service{tt.svc}, nil, pods) {
				got[p.Name] = endpointsOf(p)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("endpoints =\n%v\nwant\n%v", got, tt.want)
			}
		})
	}
}

func TestPortsFields(t *testing.T) {
	t.Parallel()
	local := corev1.ServiceInternalTrafficPolicyLocal
	timeout := int32(60)
	tests := []struct {
		name string
		svc  *corev1.Service
		want []Port // Endpoints left out
	}{
		{"headless", svc("default", "h", clusterIP("None")), nil},
		{"ExternalName", svc("default", "x", typ(corev1.ServiceTypeExternalName)), nil},
		{"another proxy's", svc("default", "p", clusterIP("10.96.1.1"), func(s *corev1.Service) {
			s.Labels = map[string]string{LabelServiceProxyName: "other"}
		}), nil},
		{"labelled headless", svc("default", "p", clusterIP("10.96.1.1"), func(s *corev1.Service) {
			s.Labels = map[string]string{LabelHeadless: ""}
		}), nil},
		{"every field", svc("default", "lb", clusterIP("10.96.1.1"), typ(corev1.ServiceTypeLoadBalancer), etpLocal, func(s *corev1.Service) {
			s.Spec.Ports = []corev1.ServicePort{{Name: "dns", Port: 53, NodePort: 30053, Protocol: corev1.ProtocolUDP}}
			s.Spec.ExternalIPs = []string{"192.0.2.1"}
			s.Spec.InternalTrafficPolicy = &local
			s.Spec.HealthCheckNodePort = 30054
			s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
			s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: &timeout}}
		}), []Port{{
			Namespace: "default", Service: "lb", Name: "dns", Protocol: UDP, ClusterIP: netip.MustParseAddr("10.96.1.1"),
			Port: 53, NodePort: 30053, ExternalIPs: []netip.Addr{netip.MustParseAddr("192.0.2.1")}, Affinity: time.Minute,
			ExternalLocal: true, InternalLocal: true, HealthCheckNodePort: 30054,
		}}},
		{"Local external policy means nothing without external traffic; default affinity timeout", svc("default", "c", clusterIP("10.96.1.2"), etpLocal, func(s *corev1.Service) {
			s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
		}), []Port{{Namespace: "default", Service: "c", Protocol: TCP, ClusterIP: netip.MustParseAddr("10.96.1.2"), Port: 80, Affinity: 3 * time.Hour}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Ports([]*corev1.Service{tt.svc}, nil, nil)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Ports =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestEndpointSlices(t *testing.T) {
	t.Parallel()
	pods := []PodState{pod("a", "10.244.1.2", 8080), pod("b", "10.244.1.3", 8081), pod("c", "10.244.2.2", 8080), pod("nameless", "10.244.1.4", 0)}
	pods[1].Pod.Spec.Hostname, pods[1].Pod.Spec.Subdomain = "bee", "web"
	got := EndpointSlices([]*corev1.Service{web(func(s *corev1.Service) { s.Labels = map[string]string{"tier": "front"} })}, pods)
	// One slice per distinct port mapping: http=8080, http=8081, none.
	type row struct {
		ports string
		addrs []string
	}
	var rows []row
	name := regexp.MustCompile(`^web-[bcdfghjklmnpqrstvwxz2456789]{5}$`)
	for _, s := range got {
		if !name.MatchString(s.Name) || s.GenerateName != "web-" || s.Namespace != "default" || s.AddressType != discoveryv1.AddressTypeIPv4 {
			t.Errorf("slice meta = %+v", s.ObjectMeta)
		}
		wantLabels := map[string]string{"tier": "front", discoveryv1.LabelServiceName: "web", discoveryv1.LabelManagedBy: ManagedBy}
		if !reflect.DeepEqual(s.Labels, wantLabels) {
			t.Errorf("labels = %v, want %v", s.Labels, wantLabels)
		}
		r := row{ports: slicePorts(s.Ports)}
		for _, e := range s.Endpoints {
			r.addrs = append(r.addrs, e.Addresses[0])
			if *e.NodeName != "n1" || e.TargetRef.Kind != "Pod" || !*e.Conditions.Ready {
				t.Errorf("endpoint = %+v", e)
			}
			if (e.TargetRef.Name == "b") != (e.Hostname != nil && *e.Hostname == "bee") {
				t.Errorf("endpoint %s hostname = %v", e.TargetRef.Name, e.Hostname)
			}
		}
		rows = append(rows, r)
	}
	want := map[string][]string{"8080,9100": {"10.244.1.2", "10.244.2.2"}, "8081,9100": {"10.244.1.3"}, "9100": {"10.244.1.4"}}
	gotRows := map[string][]string{}
	for _, r := range rows {
		gotRows[r.ports] = r.addrs
	}
	if !reflect.DeepEqual(gotRows, want) || len(rows) != 3 {
		t.Errorf("slices = %v, want %v", rows, want)
	}
	again := EndpointSlices([]*corev1.Service{web()}, pods)
	for i := range got {
		if again[i].Name != got[i].Name {
			t.Errorf("slice names change between runs: %s, %s", got[i].Name, again[i].Name)
		}
	}
}

func TestEndpointSlicesPlaceholderAndSkips(t *testing.T) {
	t.Parallel()
	svcs := []*corev1.Service{
		web(),
		svc("default", "manual", clusterIP("10.96.1.2")), // no selector
		svc("default", "h", clusterIP("None"), func(s *corev1.Service) { s.Spec.Selector = map[string]string{"app": "db"} }),
	}
	got := EndpointSlices(svcs, nil)
	if len(got) != 2 {
		t.Fatalf("got %d slices, want a placeholder for web and h: %+v", len(got), got)
	}
	for _, s := range got {
		if len(s.Endpoints) != 0 || len(s.Ports) != 0 {
			t.Errorf("placeholder %s has %v %v", s.Name, s.Endpoints, s.Ports)
		}
	}
	if _, ok := got[0].Labels[LabelHeadless]; !ok || got[0].Labels[discoveryv1.LabelServiceName] != "h" {
		t.Errorf("headless slice labels = %v", got[0].Labels)
	}
}

func TestEndpointSlicesChunked(t *testing.T) {
	t.Parallel()
	var pods []PodState
	for i := range 250 {
		pods = append(pods, pod("p"+string(rune('a'+i/26))+string(rune('a'+i%26)), netip.AddrFrom4([4]byte{10, 244, byte(i / 200), byte(i%200 + 2)}).String(), 8080))
	}
	got := EndpointSlices([]*corev1.Service{web()}, pods)
	var sizes []int
	for _, s := range got {
		sizes = append(sizes, len(s.Endpoints))
	}
	if len(sizes) != 3 || sizes[0]+sizes[1]+sizes[2] != 250 || max(sizes[0], sizes[1], sizes[2]) != MaxEndpointsPerSlice {
		t.Errorf("slice sizes = %v, want 100, 100 and 50", sizes)
	}
}

func TestHeadlessAddresses(t *testing.T) {
	t.Parallel()
	pods := []PodState{pod("b", "10.244.1.3", 8080), pod("a", "10.244.1.2", 8080), pod("u", "10.244.1.4", 8080, notReady), pod("t", "10.244.1.5", 8080, terminating)}
	headless := func(pnra bool) *corev1.Service {
		return web(clusterIP("None"), func(s *corev1.Service) { s.Spec.PublishNotReadyAddresses = pnra })
	}
	tests := []struct {
		name string
		svc  *corev1.Service
		want []string
	}{
		{"ready ones", headless(false), []string{"10.244.1.2", "10.244.1.3"}},
		{"every one with publishNotReadyAddresses", headless(true), []string{"10.244.1.2", "10.244.1.3", "10.244.1.4", "10.244.1.5"}},
		{"none for a ClusterIP Service", web(), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, a := range HeadlessAddresses(tt.svc, nil, pods) {
				got = append(got, a.String())
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestEndpointSliceConditionsPodToEndpoint checks the conditions the
// EndpointSlice controller's podToEndpoint writes: ready =
// publishNotReadyAddresses || (podReady && !terminating), serving =
// podReady, terminating = the pod has a deletionTimestamp.
func TestEndpointSliceConditionsPodToEndpoint(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                        string
		pnra                        bool
		opts                        []func(*PodState)
		ready, serving, terminating bool
	}{
		{"ready pod", false, nil, true, true, false},
		{"unready pod", false, []func(*PodState){notReady}, false, false, false},
		{"ready terminating pod", false, []func(*PodState){terminating}, false, true, true},
		{"unready terminating pod", false, []func(*PodState){notReady, terminating}, false, false, true},
		{"publishNotReadyAddresses, ready pod", true, nil, true, true, false},
		{"publishNotReadyAddresses, unready pod", true, []func(*PodState){notReady}, true, false, false},
		{"publishNotReadyAddresses, ready terminating pod", true, []func(*PodState){terminating}, true, true, true},
		{"publishNotReadyAddresses, unready terminating pod", true, []func(*PodState){notReady, terminating}, true, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			svc := web(func(s *corev1.Service) { s.Spec.PublishNotReadyAddresses = tt.pnra })
			got := EndpointSlices([]*corev1.Service{svc}, []PodState{pod("a", "10.244.1.2", 8080, tt.opts...)})
			if len(got) != 1 || len(got[0].Endpoints) != 1 {
				t.Fatalf("slices = %+v, want one with one endpoint", got)
			}
			c := got[0].Endpoints[0].Conditions
			if *c.Ready != tt.ready || *c.Serving != tt.serving || *c.Terminating != tt.terminating {
				t.Errorf("conditions = ready %v serving %v terminating %v, want %v %v %v",
					*c.Ready, *c.Serving, *c.Terminating, tt.ready, tt.serving, tt.terminating)
			}
		})
	}
}
