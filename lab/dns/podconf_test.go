package dns

import (
	"net/netip"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestResolvConf(t *testing.T) {
	t.Parallel()
	two := "2"
	kubeDNS := netip.MustParseAddr("10.96.0.10")
	host := "# host\nnameserver 192.0.2.53\nsearch corp.example\noptions edns0\n"
	for _, tc := range []struct {
		name string
		spec corev1.PodSpec
		want string
	}{
		{"cluster first", corev1.PodSpec{},
			"nameserver 10.96.0.10\nsearch shop.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n"},
		{"default is the node's", corev1.PodSpec{DNSPolicy: corev1.DNSDefault},
			"nameserver 192.0.2.53\nsearch corp.example\noptions edns0\n"},
		{"none with dnsConfig", corev1.PodSpec{DNSPolicy: corev1.DNSNone, DNSConfig: &corev1.PodDNSConfig{
			Nameservers: []string{"10.0.0.1"}, Searches: []string{"a.example"}, Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: &two}}}},
			"nameserver 10.0.0.1\nsearch a.example\noptions ndots:2\n"},
		{"cluster first with dnsConfig", corev1.PodSpec{DNSConfig: &corev1.PodDNSConfig{
			Nameservers: []string{"10.96.0.10", "10.0.0.2"}, Searches: []string{"x.example"}, Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: &two}, {Name: "edns0"}}}},
			"nameserver 10.96.0.10\nnameserver 10.0.0.2\nsearch shop.svc.cluster.local svc.cluster.local cluster.local x.example\noptions ndots:2 edns0\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "p"}, Spec: tc.spec}
			got := ResolvConf(pod, kubeDNS, "cluster.local", host)
			_, body, _ := strings.Cut(got, "\n") // the comment line
			if body != tc.want {
				t.Errorf("got\n%s\nwant\n%s", body, tc.want)
			}
		})
	}
}

func TestHostsAndHostname(t *testing.T) {
	t.Parallel()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "db-0"},
		Spec: corev1.PodSpec{Hostname: "db", Subdomain: "dbs", HostAliases: []corev1.HostAlias{{IP: "10.1.2.3", Hostnames: []string{"a", "b"}}}}}
	if h := Hostname(pod); h != "db" {
		t.Errorf("hostname %q", h)
	}
	hosts := HostsFile(pod, netip.MustParseAddr("10.244.1.9"), "cluster.local")
	for _, want := range []string{"127.0.0.1\tlocalhost\n", "10.244.1.9\tdb.dbs.shop.svc.cluster.local\tdb\n", "10.1.2.3\ta\tb\n"} {
		if !strings.Contains(hosts, want) {
			t.Errorf("hosts lacks %q:\n%s", want, hosts)
		}
	}
	long := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: strings.Repeat("a", 62) + "-b"}}
	if h := Hostname(long); h != strings.Repeat("a", 62) {
		t.Errorf("long name's hostname %q", h)
	}
}
