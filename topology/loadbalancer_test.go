package topology

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func prefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

// TestLoadBalancerPool: the pool defaults to .200-.250 of the node
// subnet's last /24 (none for a smaller subnet), takes CIDRs and ranges,
// and an explicit empty list turns the controller off.
func TestLoadBalancerPool(t *testing.T) {
	t.Parallel()
	const head = "kind: Cluster\napiVersion: kinn.dev/v1alpha1\n"
	tests := []struct {
		name, src string
		pool      []netip.Prefix
		mode      string
	}{
		{"default", head, prefixes("172.18.255.200/29", "172.18.255.208/28", "172.18.255.224/28", "172.18.255.240/29", "172.18.255.248/31", "172.18.255.250/32"), IPModeVIP},
		{"default of a /24", head + "networking: {nodeSubnet: 192.168.7.0/24}\n", rangePrefixes(netip.MustParseAddr("192.168.7.200"), netip.MustParseAddr("192.168.7.250")), IPModeVIP},
		{"no default below /24", head + "networking: {nodeSubnet: 192.168.7.0/25}\n", nil, IPModeVIP},
		{"explicit empty: no controller", head + "loadBalancer: {addresses: []}\n", nil, IPModeVIP},
		{"CIDR and range", head + "loadBalancer:\n  addresses: [192.168.10.0/30, 172.18.200.1-172.18.200.2]\n  ipMode: Proxy\n",
			prefixes("192.168.10.0/30", "172.18.200.1/32", "172.18.200.2/32"), IPModeProxy},
		{"single address range", head + "loadBalancer: {addresses: [\"172.18.9.9-172.18.9.9\"]}\n", prefixes("172.18.9.9/32"), IPModeVIP},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lab, _, err := Parse("t.yaml", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(lab.LoadBalancer.Pool, tt.pool) || lab.LoadBalancer.IPMode != tt.mode {
				t.Errorf("pool %v mode %s, want %v %s", lab.LoadBalancer.Pool, lab.LoadBalancer.IPMode, tt.pool, tt.mode)
			}
		})
	}
}

// TestLoadBalancerPoolErrors: every bad entry is reported at its place.
func TestLoadBalancerPoolErrors(t *testing.T) {
	t.Parallel()
	const head = "kind: Cluster\napiVersion: kinn.dev/v1alpha1\n"
	tests := []struct{ name, src, want string }{
		{"garbage", head + "loadBalancer: {addresses: [nope]}\n", `t.yaml:3:28: loadBalancer.addresses[0] "nope": want a CIDR`},
		{"IPv6", head + "loadBalancer: {addresses: [\"fd00::/120\"]}\n", "kinn is IPv4-only"},
		{"backwards", head + "loadBalancer: {addresses: [10.9.0.9-10.9.0.1]}\n", "ends before it starts"},
		{"host bits", head + "loadBalancer: {addresses: [10.9.0.1/24]}\n", "host bits set: the network is 10.9.0.0/24"},
		{"pod subnet", head + "loadBalancer: {addresses: [10.244.9.0/28]}\n", "overlaps podSubnet 10.244.0.0/16"},
		{"service subnet", head + "loadBalancer: {addresses: [10.96.0.0/28]}\n", "overlaps serviceSubnet 10.96.0.0/16"},
		{"nodes", head + "loadBalancer: {addresses: [172.18.0.0/29]}\n", "network or broadcast address of nodeSubnet"},
		{"node addresses", head + "loadBalancer: {addresses: [172.18.0.2-172.18.0.9]}\n", "overlaps the switch's and nodes' addresses 172.18.0.1-172.18.0.2"},
		{"broadcast", head + "loadBalancer: {addresses: [172.18.255.250-172.18.255.255]}\n", "network or broadcast address"},
		{"loopback", head + "loadBalancer: {addresses: [127.0.0.1-127.0.0.2]}\n", "holds loopback addresses"},
		{"twice", head + "loadBalancer: {addresses: [10.9.0.0/28, 10.9.0.4-10.9.0.5]}\n", "t.yaml:3:41: loadBalancer.addresses[1] 10.9.0.4-10.9.0.5 overlaps an earlier entry"},
		{"mode", head + "loadBalancer: {addresses: [10.9.0.0/28], ipMode: vip}\n", `loadBalancer.ipMode "vip" must be VIP or Proxy`},
		{"kind files have no pool", "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nloadBalancer: {addresses: []}\n", "loadBalancer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := Parse("t.yaml", []byte(tt.src))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v\nwant %q", err, tt.want)
			}
		})
	}
}

// TestDefaultPoolReachedByNodes: 199 nodes on a /24 take .200 itself.
func TestDefaultPoolReachedByNodes(t *testing.T) {
	t.Parallel()
	src := "kind: Cluster\napiVersion: kinn.dev/v1alpha1\nnetworking: {nodeSubnet: 192.168.7.0/24}\nnodes:\n- role: control-plane\n" + strings.Repeat("- role: worker\n", 198)
	if _, _, err := Parse("t.yaml", []byte(src)); err == nil || !strings.Contains(err.Error(), "199 nodes reach the default load-balancer pool 192.168.7.200-192.168.7.250") {
		t.Errorf("got %v", err)
	}
	src = strings.Replace(src, "- role: worker\n", "", 1)
	if _, _, err := Parse("t.yaml", []byte(src)); err != nil {
		t.Errorf("198 nodes: %v", err)
	}
}

func TestRangePrefixes(t *testing.T) {
	t.Parallel()
	a := netip.MustParseAddr
	if got := rangePrefixes(a("0.0.0.0"), a("255.255.255.255")); !slices.Equal(got, prefixes("0.0.0.0/0")) {
		t.Errorf("whole space: %v", got)
	}
	if got := rangePrefixes(a("10.0.0.255"), a("10.0.1.0")); !slices.Equal(got, prefixes("10.0.0.255/32", "10.0.1.0/32")) {
		t.Errorf("across a byte: %v", got)
	}
	if got := poolString(rangePrefixes(a("172.18.255.200"), a("172.18.255.250"))); got != "172.18.255.200-172.18.255.250" {
		t.Errorf("poolString: %s", got)
	}
}
