package topology

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

// TestSpecialSubnets: a subnet that is, or holds, addresses the kernel
// will not route as ordinary unicast is refused at its place in the file,
// whichever of the three subnets it is; ordinary ranges, private or not,
// are fine.
func TestSpecialSubnets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		prefix string
		what   string // "" when the prefix is fine
	}{
		{"224.0.0.0/4", "multicast"},
		{"239.1.0.0/16", "multicast"},
		{"192.0.0.0/2", "multicast"}, // holds 224.0.0.0/4
		{"127.0.0.0/8", "loopback"},
		{"127.1.0.0/16", "loopback"},
		{"0.0.0.0/16", `"this network"`},
		{"0.0.0.0/0", `"this network"`},
		{"169.254.0.0/16", "link-local"},
		{"240.0.0.0/4", "reserved and broadcast"},
		{"255.255.0.0/16", "reserved and broadcast"},
		{"10.200.0.0/16", ""},
		{"100.64.0.0/16", ""},
		{"192.168.0.0/16", ""},
		{"11.0.0.0/16", ""},
	}
	for _, field := range []string{"podSubnet", "serviceSubnet", "nodeSubnet"} {
		for _, tt := range tests {
			t.Run(field+"="+tt.prefix, func(t *testing.T) {
				t.Parallel()
				// The other two subnets stay clear of every prefix tested.
				subnets := map[string]string{"podSubnet": "172.20.0.0/16", "serviceSubnet": "172.21.0.0/16", "nodeSubnet": "172.22.0.0/16"}
				subnets[field] = tt.prefix
				src := fmt.Sprintf("kind: Cluster\napiVersion: kinn.dev/v1alpha1\nnetworking:\n  podSubnet: %s\n  serviceSubnet: %s\n  nodeSubnet: %s\n",
					subnets["podSubnet"], subnets["serviceSubnet"], subnets["nodeSubnet"])
				_, _, err := Parse("t.yaml", []byte(src))
				if tt.what == "" {
					if err != nil && strings.Contains(err.Error(), " holds ") {
						t.Errorf("%s refused: %v", tt.prefix, err)
					}
					return
				}
				line := map[string]int{"podSubnet": 4, "serviceSubnet": 5, "nodeSubnet": 6}[field]
				want := fmt.Sprintf("t.yaml:%d:%d: networking.%s %s holds %s addresses", line, len(field)+5, field, tt.prefix, tt.what)
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("got %v\nwant %s", err, want)
				}
			})
		}
	}
}

// TestSpecialRangesFamilies: every kind of address net/netip calls
// unspecified, loopback, multicast or link-local is refused in both
// families, and ordinary unicast ones are not.
func TestSpecialRangesFamilies(t *testing.T) {
	t.Parallel()
	for _, a := range []string{"0.0.0.0", "127.0.0.1", "169.254.1.1", "224.0.0.1", "239.255.255.255", "255.255.255.255", "::", "::1", "fe80::1", "ff02::1"} {
		addr := netip.MustParseAddr(a)
		if _, _, bad := special(netip.PrefixFrom(addr, addr.BitLen())); !bad {
			t.Errorf("%s is not refused", a)
		}
	}
	for _, a := range []string{"10.0.0.1", "172.18.0.1", "8.8.8.8", "100.64.0.1", "fd00::1", "2001:db8::1"} {
		addr := netip.MustParseAddr(a)
		if addr.IsUnspecified() || addr.IsLoopback() || addr.IsMulticast() || addr.IsLinkLocalUnicast() {
			t.Fatalf("bad test: %s is special", a)
		}
		if sp, _, bad := special(netip.PrefixFrom(addr, addr.BitLen())); bad {
			t.Errorf("%s is refused as in %s", a, sp)
		}
	}
}
