package dns

import (
	"slices"
	"testing"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// A headless Service without a selector answers its user slices' ready
// addresses (a nil ready condition is ready), by their hostnames too; a
// Service with a selector ignores a slice labelled with its name.
func TestAnswerUserSlices(t *testing.T) {
	t.Parallel()
	yes, no, host := true, false, "db0"
	slice := &discoveryv1.EndpointSlice{AddressType: discoveryv1.AddressTypeIPv4, Endpoints: []discoveryv1.Endpoint{
		{Addresses: []string{"10.244.1.3"}},
		{Addresses: []string{"10.244.1.2"}, Hostname: &host, Conditions: discoveryv1.EndpointConditions{Ready: &yes}},
		{Addresses: []string{"10.244.1.4"}, Conditions: discoveryv1.EndpointConditions{Ready: &no}},
	}}
	slice.Namespace, slice.Name = "default", "db-1"
	slice.Labels = map[string]string{discoveryv1.LabelServiceName: "db"}
	owned := slice.DeepCopy()
	owned.Name, owned.Labels[discoveryv1.LabelServiceName] = "web-1", "web"
	svcs := []*corev1.Service{newSvc("default", "db", "None"), newSvc("default", "web", "None", selecting("web"))}
	z := NewZone("cluster.local", svcs, nil, []*discoveryv1.EndpointSlice{slice, owned})
	got := texts(z.Answer(query("db.default.svc.cluster.local.", dns.TypeA)).Answer)
	slices.Sort(got)
	want := []string{"db.default.svc.cluster.local. 30 IN A 10.244.1.2", "db.default.svc.cluster.local. 30 IN A 10.244.1.3"}
	if !slices.Equal(got, want) {
		t.Errorf("db A = %q, want %q", got, want)
	}
	if got := texts(z.Answer(query("db0.db.default.svc.cluster.local.", dns.TypeA)).Answer); !slices.Equal(got, []string{"db0.db.default.svc.cluster.local. 30 IN A 10.244.1.2"}) {
		t.Errorf("db0.db A = %q, want 10.244.1.2", got)
	}
	if got := texts(z.Answer(query("web.default.svc.cluster.local.", dns.TypeA)).Answer); len(got) != 0 {
		t.Errorf("web A = %q, want none: its selector picks no pod and its slices are the controller's", got)
	}
}
