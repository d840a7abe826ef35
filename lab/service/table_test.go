package service

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

func TestServiceTable(t *testing.T) {
	t.Parallel()
	svcs := []*corev1.Service{
		svc("default", "web", clusterIP("10.96.1.1"), func(s *corev1.Service) { s.Spec.Selector = map[string]string{"app": "web"} }),
		svc("default", "np", clusterIP("10.96.1.2"), typ(corev1.ServiceTypeNodePort),
			ports(nodePort("a", 80, 30080, "TCP"), nodePort("b", 53, 30053, "UDP"))),
		svc("default", "lb", clusterIP("10.96.1.3"), typ(corev1.ServiceTypeLoadBalancer)),
		svc("default", "ext", clusterIP("10.96.1.4"), func(s *corev1.Service) { s.Spec.ExternalIPs = []string{"192.0.2.1", "192.0.2.2"} }),
		svc("default", "h", clusterIP("None"), ports()),
		svc("shop", "cname", typ(corev1.ServiceTypeExternalName), ports(), func(s *corev1.Service) { s.Spec.ExternalName = "example.com" }),
	}
	got := ServiceTable(svcs, true, true)
	want := Table{
		Header: []string{"NAMESPACE", "NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "SELECTOR"},
		Rows: [][]string{
			{"default", "web", "ClusterIP", "10.96.1.1", "<none>", "80/TCP", "app=web"},
			{"default", "np", "NodePort", "10.96.1.2", "<none>", "80:30080/TCP,53:30053/UDP", "<none>"},
			{"default", "lb", "LoadBalancer", "10.96.1.3", "<pending>", "80/TCP", "<none>"},
			{"default", "ext", "ClusterIP", "10.96.1.4", "192.0.2.1,192.0.2.2", "80/TCP", "<none>"},
			{"default", "h", "ClusterIP", "None", "<none>", "<none>", "<none>"},
			{"shop", "cname", "ExternalName", "<none>", "example.com", "<none>", "<none>"},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%v\nwant\n%v", got, want)
	}
	if got := ServiceTable(svcs[:1], false, false); !reflect.DeepEqual(got.Header, []string{"NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)"}) || len(got.Rows[0]) != 5 {
		t.Errorf("narrow table = %v", got)
	}
}

func TestEndpointSliceTable(t *testing.T) {
	t.Parallel()
	var pods []PodState
	for _, ip := range []string{"10.244.1.2", "10.244.1.3", "10.244.1.4", "10.244.1.5"} {
		pods = append(pods, pod("p"+ip, ip, 8080))
	}
	items := EndpointSlices([]*corev1.Service{web(), web(func(s *corev1.Service) { s.Name = "empty"; s.Spec.Selector = map[string]string{"x": "y"} })}, pods)
	got := EndpointSliceTable(items, false, false, true)
	want := [][]string{
		{items[0].Name, "IPv4", "<unset>", "<unset>"},
		{items[1].Name, "IPv4", "8080,9100", "10.244.1.2,10.244.1.3,10.244.1.4 + 1 more..."},
	}
	if !reflect.DeepEqual(got.Rows, want) || !reflect.DeepEqual(got.Header, []string{"NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS"}) {
		t.Errorf("got %v, want %v", got, want)
	}
	if l := EndpointSliceList(items); l.Kind != "EndpointSliceList" || l.APIVersion != discoveryv1.SchemeGroupVersion.String() {
		t.Errorf("list = %+v", l.TypeMeta)
	}
}
