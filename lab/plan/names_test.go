package plan_test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"

	"kinn.dev/kinn/lab/ipam"
	"kinn.dev/kinn/lab/plan"
	"kinn.dev/kinn/lab/proxy"
	"kinn.dev/kinn/lab/service"
	"kinn.dev/kinn/topology"
)

// name is a valid name of n characters that starts with tag, so that names
// of one length still differ.
func name(tag string, n int) string {
	s := tag + strings.Repeat("x", n-len(tag)-1) + "z"
	return s[:n]
}

// longestTopology has every name at Kubernetes' or kinn's limit: the
// longest lab name, a 63-character namespace holding two bare pods of 253
// characters that differ only at their ends, and a Deployment, DaemonSet,
// Service and port names that long, with session affinity (a set per
// endpoint).
func longestTopology(t *testing.T) *topology.Lab {
	t.Helper()
	lab, ns := name("lab", topology.MaxLabNameLen), name("ns", 63)
	podA, podB := name("pod", 253), name("pod", 252)+"y"
	workload := name("web", 253)
	src := fmt.Sprintf(`kind: Cluster
apiVersion: kinn.dev/v1alpha1
name: %[1]s
nodes: [{role: control-plane}, {role: worker}, {role: worker}]
---
{apiVersion: v1, kind: Namespace, metadata: {name: %[2]s}}
---
apiVersion: v1
kind: Pod
metadata: {name: %[3]s, namespace: %[2]s, labels: {app: web}}
spec: {containers: [{name: c, image: x, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: %[4]s, namespace: %[2]s, labels: {app: web}}
spec: {containers: [{name: c, image: x, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: %[5]s, namespace: %[2]s}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: x, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: %[5]s, namespace: %[2]s}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: x, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: v1
kind: Service
metadata: {name: %[6]s, namespace: %[2]s}
spec:
  type: NodePort
  sessionAffinity: ClientIP
  selector: {app: web}
  ports:
  - {name: %[7]s, port: 80, targetPort: http, protocol: SCTP}
  - {name: %[8]s, port: 443, targetPort: http}
`, lab, ns, podA, podB, workload, name("svc", 63), name("porta", 63), name("portb", 63))
	tl, _, err := topology.Parse("longest.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return tl
}

// TestLongestNamesFit builds the plan and the service proxy's rulesets of
// the topology with the longest names and checks every name kinn derives
// against the kernel's limit for it, and that none is shared.
func TestLongestNamesFit(t *testing.T) {
	t.Parallel()
	tl := longestTopology(t)
	wants, err := plan.PodWants(tl)
	if err != nil {
		t.Fatal(err)
	}
	alloc, err := ipam.Assign(nil, wants)
	if err != nil {
		t.Fatal(err)
	}
	l, err := plan.Build(tl, alloc)
	if err != nil {
		t.Fatal(err)
	}
	check := func(kind, n string, max int, seen map[string]string) {
		t.Helper()
		if len(n) > max || n == "" {
			t.Errorf("%s %.60q...: %d bytes, limit %d", kind, n, len(n), max)
		}
		if seen != nil {
			if other, dup := seen[n]; dup {
				t.Errorf("%s %.60q... is also %s", kind, n, other)
			}
			seen[n] = kind
		}
	}

	netns := map[string]string{}
	prefix := plan.NetnsPrefix(tl.Name)
	check("switch namespace", l.Switch.Netns, plan.MaxFileName, netns)
	ifaces := func(node string, links []plan.Link) {
		seen := map[string]string{}
		for _, k := range links {
			check("interface in "+node, k.Name, plan.MaxIfName, seen)
		}
	}
	swPorts := map[string]string{}
	for _, p := range l.Switch.Ports {
		check("switch port", p.Name, plan.MaxIfName, swPorts)
	}
	for _, n := range l.Nodes {
		if errs := validation.IsDNS1123Label(n.Name); len(errs) > 0 {
			t.Errorf("node %q: %v", n.Name, errs)
		}
		check("node namespace", n.Netns, plan.MaxFileName, netns)
		ifaces(n.Name, n.Links)
	}
	podDirs, veths, longPods := map[string]string{}, map[string]string{}, 0
	for _, p := range l.Pods {
		if errs := validation.IsDNS1123Subdomain(p.Name); len(errs) > 0 {
			t.Errorf("pod %q: %v", p.Name, errs)
		}
		if len(p.Name) > 63 {
			longPods++
		}
		check("namespace of pod "+p.Key(), p.Netns, plan.MaxFileName, netns)
		if !strings.HasPrefix(p.Netns, prefix+"pod.") {
			t.Errorf("pod %s's namespace %q is outside the lab's prefix %q: down would miss it", p.Key(), p.Netns, prefix+"pod.")
		}
		check("directory of pod "+p.Key(), plan.PodDirName(p.Namespace, p.Name), plan.MaxFileName, podDirs)
		check("veth of pod "+p.Key(), p.HostVeth, plan.MaxIfName, veths)
	}
	if longPods != 2 {
		t.Fatalf("%d pods with names over 63 characters, want the 2 bare ones", longPods)
	}

	// The service proxy's chains and sets, in every node, with both pods
	// as endpoints.
	svcAlloc, err := service.Allocate(service.Allocations{}, tl.Networking.ServiceSubnet, tl.LoadBalancer, tl.Services)
	if err != nil {
		t.Fatal(err)
	}
	var states []service.PodState
	for i, p := range tl.Pods {
		states = append(states, service.PodState{Pod: p.Pod, IP: l.Pods[i].IP.Addr(), Node: p.Node, Ready: true})
	}
	ports := service.Ports(service.Apply(tl.Services, svcAlloc), tl.EndpointSlices, states)
	for _, n := range l.Nodes {
		rs := proxy.Build(proxy.Node{Name: n.Name, IPs: []netip.Addr{n.Underlay.Addr()}}, ports)
		names := map[string]string{}
		endpointChains := 0
		for _, c := range rs.Chains {
			check("chain in "+n.Name, c.Name, 255, names)
			if strings.HasPrefix(c.Name, "ep-") {
				endpointChains++
			}
			for _, r := range c.Rules {
				check("rule comment in "+c.Name, r.Comment+"-", 128+1, nil)
			}
		}
		for _, m := range rs.Maps {
			check("set in "+n.Name, m.Name, 255, names)
			check("comment of set "+m.Name, m.Comment+"-", 128+1, nil)
		}
		// Two service ports, each with the 2 bare pods, 2 Deployment pods
		// and 2 DaemonSet pods as endpoints.
		if endpointChains != 12 {
			t.Errorf("node %s: %d endpoint chains, want 12", n.Name, endpointChains)
		}
	}
}

// TestShorten: short names stay as they are; long ones are cut to the
// limit, keep their start, and differ whenever the full names do, also
// from every name that was not shortened.
func TestShorten(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 300)
	tests := []struct{ in, other string }{
		{long, long[:299] + "b"},               // differ at the end
		{long, "b" + long[1:]},                 // differ at the start
		{long[:256], long[:255]},               // one shortened, one not
		{"kinn.lab.pod.ns." + long, long[:40]}, // a namespace name
	}
	for _, tt := range tests {
		a, b := plan.Shorten(tt.in, 255), plan.Shorten(tt.other, 255)
		if a == b {
			t.Errorf("Shorten(%.20s...) = Shorten(%.20s...) = %q", tt.in, tt.other, a)
		}
		for _, s := range [][2]string{{tt.in, a}, {tt.other, b}} {
			in, out := s[0], s[1]
			switch {
			case len(in) <= 255 && out != in:
				t.Errorf("Shorten of a %d-byte name changed it", len(in))
			case len(in) > 255 && (len(out) != 255 || !strings.HasPrefix(out, in[:200])):
				t.Errorf("Shorten(%d bytes) = %q (%d bytes)", len(in), out, len(out))
			}
		}
	}
	if got := plan.Shorten(long, 255); got != plan.Shorten(long, 255) {
		t.Error("Shorten is not deterministic")
	}
}
