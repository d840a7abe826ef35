package service

import (
	"net/netip"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// userSlice builds a user's IPv4 slice for Service svcName in default.
func userSlice(name, svcName string, ports []discoveryv1.EndpointPort, eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{AddressType: discoveryv1.AddressTypeIPv4, Ports: ports, Endpoints: eps}
	s.Namespace, s.Name = "default", name
	s.Labels = map[string]string{discoveryv1.LabelServiceName: svcName}
	return s
}

func slicePortOf(name string, n int32) discoveryv1.EndpointPort {
	return discoveryv1.EndpointPort{Name: ref(name), Port: ref(n)}
}

func addr(ip string, c discoveryv1.EndpointConditions) discoveryv1.Endpoint {
	return discoveryv1.Endpoint{Addresses: []string{ip}, Conditions: c}
}

type uep struct {
	ip                          string
	port                        uint16
	ready, serving, terminating bool
}

func userEndpointsOf(p Port) []uep {
	var out []uep
	for _, e := range p.Endpoints {
		out = append(out, uep{e.IP.String(), e.Port, e.Ready, e.Serving, e.Terminating})
	}
	return out
}

// A Service without a selector takes its endpoints from the slices
// labelled with its name, port by port name, with kube-proxy's reading of
// the conditions; a Service with a selector ignores them.
func TestUserEndpointSlices(t *testing.T) {
	t.Parallel()
	db := web(func(s *corev1.Service) { s.Name = "db"; s.Spec.Selector = nil })
	user := []*discoveryv1.EndpointSlice{
		userSlice("db-b", "db", []discoveryv1.EndpointPort{slicePortOf("http", 8080)},
			addr("10.244.1.2", discoveryv1.EndpointConditions{}), // duplicate of db-a's: first slice wins
			addr("10.244.1.9", discoveryv1.EndpointConditions{Ready: ref(false), Serving: ref(true), Terminating: ref(true)})),
		userSlice("db-a", "db", []discoveryv1.EndpointPort{slicePortOf("http", 8080), slicePortOf("metrics", 9100)},
			addr("10.244.1.2", discoveryv1.EndpointConditions{}),
			addr("172.18.0.3", discoveryv1.EndpointConditions{Ready: ref(false)})),
		userSlice("other", "web", []discoveryv1.EndpointPort{slicePortOf("http", 1)}, addr("10.244.9.9", discoveryv1.EndpointConditions{})),
		func() *discoveryv1.EndpointSlice {
			s := userSlice("v6", "db", []discoveryv1.EndpointPort{slicePortOf("http", 8080)}, addr("fd00::1", discoveryv1.EndpointConditions{}))
			s.AddressType = discoveryv1.AddressTypeIPv6
			return s
		}(),
	}
	got := map[string][]uep{}
	for _, p := range Ports([]*corev1.Service{db, web()}, user, []PodState{pod("w", "10.244.2.2", 8080)}) {
		got[p.Service+":"+p.Name] = userEndpointsOf(p)
	}
	want := map[string][]uep{
		"db:http": {
			{"10.244.1.2", 8080, true, true, false},
			{"172.18.0.3", 8080, false, false, false},
			{"10.244.1.9", 8080, false, true, true},
		},
		"db:metrics":  {{"10.244.1.2", 9100, true, true, false}, {"172.18.0.3", 9100, false, false, false}},
		"web:http":    {{"10.244.2.2", 8080, true, true, false}},
		"web:metrics": {{"10.244.2.2", 9100, true, true, false}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("endpoints:\n got %v\nwant %v", got, want)
	}
}

func TestUserSlicesHeadless(t *testing.T) {
	t.Parallel()
	db := svc("default", "db", func(s *corev1.Service) { s.Spec.ClusterIP = corev1.ClusterIPNone })
	user := []*discoveryv1.EndpointSlice{userSlice("db-a", "db", nil,
		addr("10.244.1.3", discoveryv1.EndpointConditions{}),
		addr("10.244.1.2", discoveryv1.EndpointConditions{Ready: ref(true)}),
		addr("10.244.1.4", discoveryv1.EndpointConditions{Ready: ref(false)}))}
	got := HeadlessAddresses(db, user, nil)
	want := []netip.Addr{netip.MustParseAddr("10.244.1.2"), netip.MustParseAddr("10.244.1.3")}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("HeadlessAddresses = %v, want %v", got, want)
	}
}

func TestWithUserSlices(t *testing.T) {
	t.Parallel()
	ctrl := EndpointSlices([]*corev1.Service{web()}, []PodState{pod("w", "10.244.2.2", 8080)})
	got := WithUserSlices(ctrl, []*discoveryv1.EndpointSlice{userSlice("a-mine", "db", nil)})
	if len(got) != 2 || got[0].Name != "a-mine" || got[0].Kind != "EndpointSlice" || got[1].Name != ctrl[0].Name {
		t.Errorf("slices = %+v, want a-mine then the controller's", got)
	}
}
