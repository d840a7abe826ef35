package topology

import (
	"strings"
	"testing"
)

// TestPodDNSValid: what the API server accepts in a pod's DNS settings,
// hostname and host aliases, kinn accepts too (trailing dots, underscores
// and "." in search domains, IPv6 nameservers, option values).
func TestPodDNSValid(t *testing.T) {
	t.Parallel()
	src := `apiVersion: v1
kind: Pod
metadata: {name: resolver}
spec:
  hostname: db-0
  subdomain: db
  dnsPolicy: None
  dnsConfig:
    nameservers: [10.0.0.10, "2001:db8::53", "FE80::1"]
    searches: [example.com, corp.example.com., _tcp.example.com, "."]
    options: [{name: ndots, value: "2"}, {name: edns0}]
  hostAliases:
  - {ip: 10.1.2.3, hostnames: [foo.local, bar]}
  - {ip: "2001:db8::1", hostnames: [v6.local]}
  containers: [{name: c, image: x}]
`
	lab, _, err := Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if p := userOnly(lab).Pods[0].Pod; p.Spec.DNSConfig == nil || len(p.Spec.HostAliases) != 2 {
		t.Errorf("pod spec lost its DNS settings: %+v", p.Spec)
	}
}

// TestPodDNSTemplate: a workload's template is checked like a pod's spec.
func TestPodDNSTemplate(t *testing.T) {
	t.Parallel()
	src := `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      hostAliases: [{ip: "10.0.0.1\n10.6.6.6", hostnames: [evil]}]
      containers: [{name: c, image: x}]
`
	_, _, err := Parse("t.yaml", []byte(src))
	want := `t.yaml:9:26: spec.template.spec.hostAliases[0].ip "10.0.0.1\n10.6.6.6" is not an IP address`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v\nwant %s", err, want)
	}
}
