package topology

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func load(t *testing.T, file string) (*Lab, []Warning) {
	t.Helper()
	lab, warns, err := Load(file)
	if err != nil {
		t.Fatalf("Load(%s): %v", file, err)
	}
	return userOnly(lab), warns
}

func nodesOf(lab *Lab) []string {
	var out []string
	for _, n := range lab.Nodes {
		out = append(out, n.Name)
	}
	return out
}

// placement maps pod name to node.
func placement(lab *Lab) map[string]string {
	out := make(map[string]string)
	for _, p := range lab.Pods {
		out[p.Name] = p.Node
		if p.Pod.Spec.NodeName != p.Node || p.Pod.Name != p.Name || p.Pod.Namespace != p.Namespace {
			panic(fmt.Sprintf("pod %s: object disagrees with its entry", p.Key()))
		}
	}
	return out
}

func warnStrings(ws []Warning) []string {
	var out []string
	for _, w := range ws {
		out = append(out, fmt.Sprintf("%d:%d: %s", w.Pos.Line, w.Pos.Col, w.Msg))
	}
	return out
}

func TestValid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file  string
		check func(t *testing.T, lab *Lab, warns []Warning)
	}{
		{"valid-endpointslices.yaml", func(t *testing.T, lab *Lab, warns []Warning) {
			if len(lab.EndpointSlices) != 3 {
				t.Fatalf("got %d EndpointSlices, want 3", len(lab.EndpointSlices))
			}
			s := lab.EndpointSlices[0]
			if s.Namespace != "default" || *s.Ports[0].Protocol != corev1.ProtocolTCP || *s.Endpoints[0].Conditions.Ready {
				t.Errorf("slice db-1 = %+v: want namespace and protocol defaulted, conditions as written", s)
			}
			matchAll(t, warnStrings(warns), []string{
				"42:33: EndpointSlice default/web-mine is ignored: Service default/web has a selector",
				"52:3: EndpointSlice default/stray has no kubernetes.io/service-name label",
			})
		}},
		{"valid-objects-only.yaml", func(t *testing.T, lab *Lab, warns []Warning) {
			if got := nodesOf(lab); !slices.Equal(got, []string{"kinn-control-plane"}) {
				t.Errorf("nodes = %v, want the default single control plane", got)
			}
			if lab.Name != "kinn" || lab.Networking.PodSubnet != defaultPodSubnet || lab.Networking.Overlay != OverlayVXLAN {
				t.Errorf("defaults not applied: %s %+v", lab.Name, lab.Networking)
			}
			if want := []string{"default", "kube-system", "shop", "tools"}; !slices.Equal(lab.Namespaces, want) {
				t.Errorf("namespaces = %v, want %v", lab.Namespaces, want)
			}
			if len(lab.Pods) != 3 {
				t.Fatalf("got %d pods, want 3", len(lab.Pods))
			}
			for _, p := range lab.Pods {
				if p.Node != "kinn-control-plane" {
					t.Errorf("%s on %s: a single-node lab runs everything on its control plane", p.Key(), p.Node)
				}
			}
			if p := lab.Pods[0]; p.Namespace != "shop" || p.Owner != "Deployment/cart" || !strings.HasPrefix(p.Name, "cart-") ||
				p.Pod.Spec.Containers[0].Ports[0].Protocol != corev1.ProtocolTCP {
				t.Errorf("first pod = %+v", p)
			}
			if len(warns) != 0 {
				t.Errorf("warnings: %v", warns)
			}
		}},
		{"valid-kind.yaml", func(t *testing.T, lab *Lab, warns []Warning) {
			if want := []string{"dev-control-plane", "dev-worker", "dev-worker2"}; !slices.Equal(nodesOf(lab), want) {
				t.Errorf("nodes = %v, want %v", nodesOf(lab), want)
			}
			w := lab.Nodes[2].Labels
			if w["zone"] != "b" || w[labelHostname] != "dev-worker2" {
				t.Errorf("worker2 labels = %v", w)
			}
			if _, ok := lab.Nodes[0].Labels[labelControlPlane]; !ok {
				t.Errorf("control plane lacks its role label: %v", lab.Nodes[0].Labels)
			}
			n := lab.Networking
			if n.PodSubnet != netip.MustParsePrefix("10.200.0.0/16") || n.NodeSubnet != defaultNodeSubnet ||
				n.KubeProxyMode != "nftables" || !n.DisableDefaultCNI || n.MTU != 1500 || n.VNI != 1 || n.VXLANPort != 4789 {
				t.Errorf("networking = %+v", n)
			}
			want := []string{
				"4:1: ignoring featureGates: kinn runs no containers",
				"8:3: ignoring nodes[0].image: kinn runs no containers",
				"9:3: ignoring nodes[0].extraPortMappings: kinn runs no containers",
				"18:3: ignoring nodes[2].extraMounts: kinn runs no containers",
				"23:3: ignoring networking.apiServerAddress: kinn runs no containers",
				"32:7: skipping v1 ConfigMap",
			}
			matchAll(t, warnStrings(warns), want)
			svc := lab.Services[0]
			if svc.Namespace != "default" || svc.Spec.Type != corev1.ServiceTypeClusterIP || svc.Spec.SessionAffinity != corev1.ServiceAffinityNone {
				t.Errorf("service defaults not applied: %+v", svc)
			}
			if p := svc.Spec.Ports[1]; p.TargetPort != intstr.FromInt32(53) || p.Protocol != corev1.ProtocolUDP {
				t.Errorf("dns port = %+v", p)
			}
			if p := svc.Spec.Ports[0]; p.TargetPort != intstr.FromString("http") || p.Protocol != corev1.ProtocolTCP {
				t.Errorf("http port = %+v", p)
			}
			if lab.CNI == nil || lab.CNI.ConfListPos.Line != 29 || lab.CNI.BinDir != DefaultCNIBinDir || !strings.HasSuffix(lab.CNI.Dir, "/topology/testdata") || !filepath.IsAbs(lab.CNI.Dir) || lab.CNI.CallTimeout != DefaultCNITimeout {
				t.Errorf("cni = %+v", lab.CNI)
			}
		}},
		{"valid-kinn.yaml", func(t *testing.T, lab *Lab, warns []Warning) {
			if want := []string{"lab-1-control-plane", "lab-1-control-plane2", "lab-1-worker"}; !slices.Equal(nodesOf(lab), want) {
				t.Errorf("nodes = %v, want %v", nodesOf(lab), want)
			}
			want := Networking{
				PodSubnet:        netip.MustParsePrefix("10.10.0.0/16"),
				ServiceSubnet:    netip.MustParsePrefix("10.11.0.0/16"),
				NodeSubnet:       netip.MustParsePrefix("192.168.50.0/24"),
				NodeCIDRMaskSize: 26, Overlay: OverlayHostGW, VNI: 42, VXLANPort: 8472, MTU: 9000, KubeProxyMode: "none", DNSDomain: "lab.example",
				NodePortAddresses: []netip.Prefix{netip.MustParsePrefix("192.168.50.0/24"), netip.MustParsePrefix("10.10.0.0/16")},
			}
			if !reflect.DeepEqual(lab.Networking, want) {
				t.Errorf("networking = %+v, want %+v", lab.Networking, want)
			}
			if lab.CNI == nil || lab.CNI.BinDir != "/opt/cni/bin" || lab.CNI.ConfList != "/etc/cni/net.d/10-kinn.conflist" || lab.CNI.CallTimeout != 45*time.Second {
				t.Errorf("cni = %+v", lab.CNI)
			}
			if len(lab.Pods) != 0 || len(warns) != 0 {
				t.Errorf("pods %v, warnings %v", lab.Pods, warns)
			}
		}},
		{"valid-placement.yaml", func(t *testing.T, lab *Lab, warns []Warning) {
			got := placement(lab)
			spread := []string{}
			for _, p := range lab.Pods {
				if p.Owner == "Deployment/spread" {
					spread = append(spread, p.Node)
				}
			}
			// Round-robin over the workers; the tainted control plane is skipped.
			if want := []string{"kinn-worker", "kinn-worker2", "kinn-worker3", "kinn-worker"}; !slices.Equal(spread, want) {
				t.Errorf("spread on %v, want %v", spread, want)
			}
			// worker has 2 pods, worker3 1: fast goes to the emptier ssd node.
			for pod, node := range map[string]string{"pinned": "kinn-control-plane", "fast": "kinn-worker3", "tolerant": "kinn-control-plane"} {
				if got[pod] != node {
					t.Errorf("%s on %q, want %s", pod, got[pod], node)
				}
			}
			ds := map[string][]string{}
			for _, p := range lab.Pods {
				if strings.HasPrefix(p.Owner, "DaemonSet/") {
					ds[p.Owner] = append(ds[p.Owner], p.Node)
					if want := p.Owner[len("DaemonSet/"):] + "-"; !strings.HasPrefix(p.Name, want) || len(p.Name) != len(want)+5 {
						t.Errorf("DaemonSet pod name %q", p.Name)
					}
				}
			}
			if want := nodesOf(lab); !slices.Equal(ds["DaemonSet/everywhere"], want) {
				t.Errorf("everywhere on %v, want %v", ds["DaemonSet/everywhere"], want)
			}
			if want := nodesOf(lab)[1:]; !slices.Equal(ds["DaemonSet/workers-only"], want) {
				t.Errorf("workers-only on %v, want %v", ds["DaemonSet/workers-only"], want)
			}
			if len(lab.Pods) != 4+3+4+3 {
				t.Errorf("got %d pods", len(lab.Pods))
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			lab, warns := load(t, filepath.Join("testdata", tt.file))
			tt.check(t, lab, warns)
		})
	}
}

// matchAll checks got against want one to one, in order: each want is
// "LINE:COL: substring of the message".
func matchAll(t *testing.T, got, want []string) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(want); i++ {
		pos, msg, _ := strings.Cut(want[i], ": ")
		ok = strings.HasPrefix(got[i], pos+": ") && strings.Contains(got[i], msg)
	}
	if !ok {
		t.Errorf("got:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func TestInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file string
		want []string
	}{
		{"invalid-many.yaml", []string{
			"7:14: podSubnet 10.244.1.0/16 has host bits set: the network address is 10.244.0.0/16",
			"9:15: serviceSubnet 10.96.0.0/12 overlaps nodeSubnet 10.100.0.0/16",
			"10:21: nodeCIDRMaskSize 8 must be greater than podSubnet 10.244.0.0/16's prefix length",
			`11:12: unknown overlay "geneve"; valid: vxlan, host-gw`,
			`12:3: unknown field "networking.colour"`,
			`19:17: nodeSelector {"gpu":"yes"} matches no node`,
			`23:5: unknown field "spec.containers[0].imagePullPolicyy"`,
			`28:9: duplicate Pod "default/a" (the first is at line 14)`,
		}},
		{"invalid-two-clusters.yaml", []string{
			"4:1: a second cluster document (the first is at line 1)",
			`8:13: unsupported cluster apiVersion "kind.x-k8s.io/v1alpha3"`,
		}},
		{"invalid-syntax.yaml", []string{"4:1: did not find expected key"}},
		{"invalid-types.yaml", []string{
			"4:9: metadata.name must be a string, not 80",
			`6:13: spec.replicas must be an integer, not "three"`,
			"17:26: spec.template.spec.containers[0].ports[0].containerPort: 99999999999 does not fit in int32",
			"20:18: spec.template.spec.containers[0].resources.limits.cpu: quantities must match",
			"22:16: spec.template.spec.containers[1].image must be a string, not a list",
			"24:1: document has no apiVersion",
			"28:1: a document must be a mapping",
		}},
		{"invalid-services.yaml", []string{
			`4:9: metadata.name "Bad.Name" is invalid`,
			`6:9: spec.type "Magic" must be one of`,
			"7:14: spec.clusterIP 10.0.0.1 is outside serviceSubnet 10.96.0.0/16",
			"9:5: spec.ports[0].name is required when a Service has more than one port",
			"10:5: spec.ports[1].name is required",
			"10:11: spec.ports[1].port 70000 must be in 1..65535",
			`11:17: spec.ports[1].targetPort "not_a_name!" must be a port number or a container port name`,
			"32:15: spec.ports[0].nodePort 30080/TCP is already used by Service default/np1 (line 21)",
			`33:11: spec.ports[1].name "a" is used by another port`,
			"35:15: spec.ports[1].nodePort 20000 must be in 30000..32767",
			"44:15: spec.ports[0].nodePort is only allowed for type NodePort or LoadBalancer, not ClusterIP",
			`45:15: spec.ports[0].protocol "ICMP" must be TCP, UDP or SCTP`,
		}},
		{"invalid-networkpolicies.yaml", []string{
			"9:7: spec.ingress[0].from[0]: must specify a peer",
			"10:7: spec.ingress[0].from[1]: may not specify both ipBlock and another peer",
			"13:13: spec.ingress[0].ports[0].port: 70000: must be between 1 and 65535",
			`14:17: spec.ingress[0].ports[1].protocol: unsupported value "ICMP"`,
			`15:17: spec.policyTypes[0]: unsupported value "Sideways"`,
		}},
		{"invalid-endpointslices.yaml", []string{
			`7:14: addressType "IPv5" must be IPv4, IPv6 or FQDN`,
			"9:14: endpoints[0].addresses must hold 1..100 addresses, not 0",
			`21:15: endpoints[0].addresses[0] "fd00::1" must be an IPv4 address (addressType is IPv4)`,
			`21:26: endpoints[0].addresses[1] "not-an-ip" must be an IPv4 address`,
			`21:39: endpoints[0].addresses[2] "127.0.0.1" may not be unspecified, loopback, link-local or multicast`,
			`22:13: endpoints[0].hostname "Bad_Host" is invalid`,
			`24:12: endpoints[0].conditions.ready must be true or false, not "maybe"`,
			`26:3: unknown field "endpoints[1].nodeNames"`,
			"29:9: ports[0].port 70000 must be in 1..65535",
			`30:13: ports[0].protocol "ICMP" must be TCP, UDP or SCTP`,
			`31:3: ports[1].name "web" is used by another port`,
			`33:9: ports[2].name "Bad_Name" is invalid`,
			"34:9: ports[2].port 0 must be in 1..65535",
			`44:15: endpoints[0].addresses[0] "-bad-.example.com" must be a fully qualified domain name`,
			`49:9: duplicate EndpointSlice "default/db-1" (the first is at line 1)`,
		}},
		{"invalid-workloads.yaml", []string{
			"6:13: spec.replicas -1 must be in 0..65536",
			`8:5: spec.selector "app=web" does not match spec.template.metadata.labels`,
			"17:26: containerPort 0 must be in 1..65535",
			`18:21: protocol "HTTP" must be TCP, UDP or SCTP`,
			`31:17: spec.template.spec.nodeName "nowhere" is not a node of this lab (nodes: kinn-control-plane)`,
			"32:19: spec.template.spec.containers: at least one container is required",
			"38:1: spec.selector is required",
		}},
		{"invalid-capacity.yaml", []string{
			`3:7: invalid lab name "my.lab": a lab name is 1 to 46 lowercase letters`,
			"4:1: nodes: at least one control-plane node is required",
			`7:9: nodes[2].role "boss" must be "control-plane" or "worker"`,
			"11:15: nodeSubnet 172.18.0.0/30 has 2 usable addresses; the lab's switch and 2 nodes need 3",
			"16:9: node my.lab-worker is full: its /30 node CIDR has room for 1 pods",
		}},
		{"invalid-node-cidrs.yaml", []string{
			"9:21: podSubnet 10.244.0.0/24 with nodeCIDRMaskSize 25 gives 2 node CIDRs for 3 nodes",
		}},
		{"invalid-kind-extensions.yaml", []string{
			`3:1: cni: set networking.disableDefaultCNI: true too`,
			`6:13: networking.ipFamily "dual" is not supported: kinn is IPv4-only`,
			`7:3: unknown field "networking.overlay"`,
			`8:18: networking.kubeProxyMode "userspace" must be one of`,
			`12:5: label key "bad key!" is invalid`,
		}},
		{"invalid-security.yaml", []string{
			"5:32: spec.containers[0]: spec.securityContext.runAsUser is 0 but runAsNonRoot is true: name another user or drop runAsNonRoot",
			"13:53: spec.securityContext.runAsGroup -1 must be in 0..2147483647",
			"17:34: spec.containers[0]: spec.containers[0].securityContext.runAsUser is 0 but runAsNonRoot is true: name another user or drop runAsNonRoot",
			"30:55: spec.containers[1].securityContext.runAsUser 4294967296 must be in 0..2147483647",
		}},
		{"invalid-cni.yaml", []string{
			"6:22: networking.disableDefaultCNI: true needs a cni block",
		}},
		{"invalid-cni-timeout.yaml", []string{
			`7:12: cni.timeout "soon" must be a positive duration such as 30s or 2m`,
		}},
		{"invalid-kinn-ranges.yaml", []string{
			"4:8: networking.vni 0 must be in 1..16777215",
			"5:14: networking.vxlanPort 70000 must be in 1..65535",
			"6:8: networking.mtu 576 must be in 1280..9000",
			`8:18: networking.serviceSubnet "fe80::/64" is not an IPv4 prefix`,
			"9:15: podSubnet 10.96.0.0/12 overlaps nodeSubnet 10.100.0.0/16",
			`11:5: networking.nodePortAddresses: "primary" cannot be combined with CIDRs`,
			"12:5: networking.nodePortAddresses[1] 10.1.2.3/8 has host bits set: the network address is 10.0.0.0/8",
			`13:5: networking.nodePortAddresses[2] "::1/128" is neither "primary" nor an IPv4 CIDR`,
			`14:5: networking.nodePortAddresses[3] "nodes" is neither "primary" nor an IPv4 CIDR`,
		}},
		{"invalid-subnets.yaml", []string{
			"4:14: networking.podSubnet 224.0.0.0/4 holds multicast addresses (224.0.0.0/4)",
			"5:18: networking.serviceSubnet 127.0.0.0/8 holds loopback addresses (127.0.0.0/8)",
			`6:15: networking.nodeSubnet 0.0.0.0/16 holds "this network" addresses (0.0.0.0/8)`,
		}},
		{"invalid-pod-dns.yaml", []string{
			`6:13: spec.hostname "Bad_Host" is invalid`,
			`7:14: spec.subdomain "two.labels" is invalid`,
			`8:14: spec.dnsPolicy "Weird" must be one of`,
			`10:19: spec.dnsConfig.nameservers[0] "10.0.0.1\nnameserver 6.6.6.6" is not an IP address`,
			`10:51: spec.dnsConfig.nameservers[1] "010.0.0.2" is not an IP address: must not have leading 0s`,
			`11:31: spec.dnsConfig.searches[1] "a\nnameserver 6.6.6.6" is invalid`,
			`13:28: spec.dnsConfig.options[0].value "5\nnameserver 6.6.6.6" must not contain white space`,
			"14:7: spec.dnsConfig.options[1].name is required",
			`15:14: spec.dnsConfig.options[2].name "edns0 rotate" must not contain white space`,
			`17:9: spec.hostAliases[0].ip "10.0.0.9\n6.6.6.6 evil" is not an IP address`,
			`18:29: spec.hostAliases[0].hostnames[1] "a b" is invalid`,
			"26:14: spec.dnsConfig is required when dnsPolicy is None",
			"40:22: spec.template.spec.dnsConfig.nameservers: 4 nameservers; at most 3",
			"54:18: spec.template.spec.dnsConfig.nameservers: at least one nameserver is required when dnsPolicy is None",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			file := filepath.Join("testdata", tt.file)
			lab, _, err := Load(file)
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("Load(%s) = %v, %v; want Problems", file, lab, err)
			}
			if lab != nil {
				t.Errorf("a lab came back despite problems")
			}
			var got []string
			for _, line := range strings.Split(ps.Error(), "\n") {
				rest, ok := strings.CutPrefix(line, file+":")
				if !ok {
					t.Errorf("problem %q does not start with %s:", line, file)
				}
				got = append(got, rest)
			}
			matchAll(t, got, tt.want)
		})
	}
}

// Every fixture is covered by a test table, so a new one is not forgotten.
func TestFixturesCovered(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, f := range files {
		base := filepath.Base(f)
		if !strings.HasPrefix(base, "valid-") && !strings.HasPrefix(base, "invalid-") {
			t.Errorf("%s: fixtures are named valid-*.yaml or invalid-*.yaml", f)
		}
		if _, _, err := Load(f); (err == nil) != strings.HasPrefix(base, "valid-") {
			t.Errorf("%s: err = %v", f, err)
		}
	}
}

func TestExamples(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../examples/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			lab, _ := load(t, f)
			if len(lab.Nodes) == 0 || len(lab.Pods) == 0 {
				t.Errorf("%s: %d nodes, %d pods", f, len(lab.Nodes), len(lab.Pods))
			}
		})
	}
}

func TestDefault(t *testing.T) {
	t.Parallel()
	example, err := os.ReadFile("../examples/default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if string(example) != string(DefaultYAML()) {
		t.Errorf("examples/default.yaml differs from topology/default.yaml; copy it over")
	}
	lab, warns, err := Default()
	if err != nil || len(warns) != 0 {
		t.Fatalf("Default() = %v, %v", warns, err)
	}
	lab = userOnly(lab)
	if lab.Source != "<default>" || lab.Name != "kinn" {
		t.Errorf("source %q name %q", lab.Source, lab.Name)
	}
	if want := []string{"kinn-control-plane", "kinn-worker", "kinn-worker2"}; !slices.Equal(nodesOf(lab), want) {
		t.Errorf("nodes = %v, want %v", nodesOf(lab), want)
	}
	var web int
	for _, p := range lab.Pods {
		if p.Owner == "Deployment/web" {
			web++
			if p.Pod.Labels["app"] != "web" || p.Pod.Labels["pod-template-hash"] == "" {
				t.Errorf("%s labels = %v", p.Name, p.Pod.Labels)
			}
		}
		if p.Node == "kinn-control-plane" {
			t.Errorf("%s placed on the tainted control plane", p.Name)
		}
	}
	if web != 3 || len(lab.Pods) != 4 || len(lab.Services) != 2 {
		t.Errorf("%d web pods, %d pods, %d services", web, len(lab.Pods), len(lab.Services))
	}
	if np := lab.Services[1]; np.Spec.Type != corev1.ServiceTypeNodePort || np.Spec.Ports[0].NodePort != 30080 {
		t.Errorf("web-nodeport = %+v", np.Spec)
	}
}

func TestDeploymentNames(t *testing.T) {
	t.Parallel()
	names := func(src string) []string {
		lab, _, err := Parse("t.yaml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, p := range lab.Pods {
			if p.Owner == "Deployment/web" {
				out = append(out, p.Name)
			}
		}
		return out
	}
	src := string(DefaultYAML())
	first, second := names(src), names(src)
	if !slices.Equal(first, second) {
		t.Errorf("names differ between parses: %v, %v", first, second)
	}
	if len(slices.Compact(slices.Sorted(slices.Values(first)))) != 3 {
		t.Errorf("names not unique: %v", first)
	}
	for _, n := range first {
		parts := strings.Split(n, "-")
		if len(parts) != 3 || parts[0] != "web" || len(parts[2]) != 5 || strings.Trim(parts[1]+parts[2], alphabet) != "" {
			t.Errorf("name %q is not web-<hash>-<suffix>", n)
		}
	}
	scaled := names(strings.Replace(src, "replicas: 3", "replicas: 1", 1))
	if len(scaled) != 1 || scaled[0] != first[0] {
		t.Errorf("scaled to 1: %v; want [%s]", scaled, first[0])
	}
	changed := names(strings.Replace(src, "--http-port=8080", "--http-port=8081", 1))
	if strings.Split(changed[0], "-")[1] == strings.Split(first[0], "-")[1] {
		t.Errorf("template changed but pod-template-hash did not: %s", changed[0])
	}
}

func TestNameCollision(t *testing.T) {
	t.Parallel()
	lab, _, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	taken := lab.Pods[0].Name
	src := string(DefaultYAML()) + fmt.Sprintf(`---
apiVersion: v1
kind: Pod
metadata: {name: %s}
spec:
  containers: [{name: c, image: x}]
`, taken)
	lab, _, err = Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, p := range lab.Pods {
		if seen[p.Key()] {
			t.Errorf("duplicate pod %s", p.Key())
		}
		seen[p.Key()] = true
	}
	if lab.Pods[0].Name == taken {
		t.Errorf("the Deployment took the bare pod's name %s", taken)
	}
}

func TestProblemsError(t *testing.T) {
	t.Parallel()
	ps := Problems{{Pos{"f", 9, 1}, "b"}, {Pos{"f", 2, 7}, "a"}, {Pos{"f", 9, 0}, "c"}}
	if got, want := ps.Error(), "f:2:7: a\nf:9:0: c\nf:9:1: b"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestLoadMissingFile(t *testing.T) {
	t.Parallel()
	_, _, err := Load("testdata/does-not-exist.yaml")
	var ps Problems
	if err == nil || errors.As(err, &ps) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v; want a wrapped I/O error", err)
	}
}

func TestEmptyAndEdgeDocuments(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src string
		wantErr   string
	}{
		{"empty", "", ""},
		{"only separators", "---\n---\n", ""},
		{"comment only", "# nothing\n", ""},
		{"alias", "apiVersion: &v v1\nkind: Namespace\nmetadata: {name: *v}\n", ""},
		{"no kind", "a: &x {apiVersion: v1}\n", "document has no apiVersion or kind"},
		{"merge key", "apiVersion: v1\nkind: Namespace\nbase: &b {name: x}\nmetadata:\n  <<: *b\n", "merge keys"},
		{"duplicate key", "apiVersion: v1\nkind: Namespace\nkind: Pod\n", `duplicate key "kind"`},
		{"deep", "apiVersion: v1\nkind: X\nmetadata: " + strings.Repeat("[", 200) + strings.Repeat("]", 200) + "\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := Parse("t.yaml", []byte(tt.src))
			if tt.wantErr == "" && err != nil && tt.name != "deep" {
				t.Errorf("unexpected error: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add(DefaultYAML())
	f.Fuzz(func(t *testing.T, data []byte) {
		lab, _, err := Parse("fuzz.yaml", data)
		if (lab == nil) == (err == nil) {
			t.Fatalf("lab %v and err %v: exactly one must be set", lab, err)
		}
	})
}

func TestHostGWExample(t *testing.T) {
	t.Parallel()
	lab, _ := load(t, "../examples/host-gw.yaml")
	if lab.Networking.Overlay != OverlayHostGW || lab.Networking.PodSubnet != netip.MustParsePrefix("10.20.0.0/16") {
		t.Errorf("networking = %+v", lab.Networking)
	}
	count := map[string]int{}
	for _, p := range lab.Pods {
		count[p.Owner]++
	}
	if count["Deployment/web"] != 4 || count["DaemonSet/node-agent"] != 3 {
		t.Errorf("pods per owner = %v; want 4 web, 3 node-agent (control plane included)", count)
	}
}

// userOnly drops the add-ons kinn puts into every lab, for tests about what
// the file says.
func userOnly(lab *Lab) *Lab {
	if lab == nil {
		return nil
	}
	lab.Pods = slices.DeleteFunc(lab.Pods, func(p Pod) bool { return IsAddOn(p.Pod) })
	lab.Services = slices.DeleteFunc(lab.Services, func(s *corev1.Service) bool { return IsAddOn(s) })
	lab.Deployments = slices.DeleteFunc(lab.Deployments, func(d *appsv1.Deployment) bool { return IsAddOn(d) })
	return lab
}
