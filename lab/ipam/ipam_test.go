package ipam

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"testing"
)

func TestNodeCIDRs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		subnet string
		mask   int
		n      int
		want   []string
		err    bool
	}{
		{"10.244.0.0/16", 24, 3, []string{"10.244.0.0/24", "10.244.1.0/24", "10.244.2.0/24"}, false},
		{"10.20.0.0/16", 26, 2, []string{"10.20.0.0/26", "10.20.0.64/26"}, false},
		{"10.0.0.0/30", 31, 2, []string{"10.0.0.0/31", "10.0.0.2/31"}, false},
		{"10.244.0.0/24", 25, 3, nil, true},
		{"10.244.0.0/24", 16, 1, nil, true},
	}
	for _, tt := range tests {
		got, err := NodeCIDRs(netip.MustParsePrefix(tt.subnet), tt.mask, tt.n)
		if (err != nil) != tt.err {
			t.Fatalf("NodeCIDRs(%s,%d,%d) err=%v, want err=%v", tt.subnet, tt.mask, tt.n, err, tt.err)
		}
		if fmt.Sprint(got) != fmt.Sprint(prefixes(tt.want)) {
			t.Errorf("NodeCIDRs(%s,%d,%d) = %v, want %v", tt.subnet, tt.mask, tt.n, got, tt.want)
		}
	}
}

func TestNodeAddrs(t *testing.T) {
	t.Parallel()
	sw, nodes, err := NodeAddrs(netip.MustParsePrefix("172.18.0.0/16"), 3)
	if err != nil {
		t.Fatal(err)
	}
	if sw.String() != "172.18.0.1/16" || fmt.Sprint(nodes) != "[172.18.0.2/16 172.18.0.3/16 172.18.0.4/16]" {
		t.Errorf("got %v %v", sw, nodes)
	}
	if _, _, err := NodeAddrs(netip.MustParsePrefix("172.18.0.0/30"), 2); err == nil {
		t.Error("a /30 cannot hold a switch and two nodes")
	}
}

func TestAssign(t *testing.T) {
	t.Parallel()
	c1 := netip.MustParsePrefix("10.244.1.0/24")
	c2 := netip.MustParsePrefix("10.244.2.0/24")
	tests := []struct {
		name string
		prev Allocations
		want []Want
		out  map[string]string
	}{
		{"fresh pods start after the gateway", nil,
			[]Want{{"default/b", c1}, {"default/a", c1}, {"default/c", c2}},
			map[string]string{"default/a": "10.244.1.2", "default/b": "10.244.1.3", "default/c": "10.244.2.2"}},
		{"a pod keeps its address", Allocations{"default/b": addr("10.244.1.7")},
			[]Want{{"default/a", c1}, {"default/b", c1}},
			map[string]string{"default/a": "10.244.1.2", "default/b": "10.244.1.7"}},
		{"a moved pod gets an address of its new node", Allocations{"default/a": addr("10.244.1.2")},
			[]Want{{"default/a", c2}},
			map[string]string{"default/a": "10.244.2.2"}},
		{"a gone pod frees its address", Allocations{"default/gone": addr("10.244.1.2")},
			[]Want{{"default/new", c1}},
			map[string]string{"default/new": "10.244.1.2"}},
		{"gateway and broadcast are never kept", Allocations{"default/a": addr("10.244.1.1"), "default/b": addr("10.244.1.255")},
			[]Want{{"default/a", c1}, {"default/b", c1}},
			map[string]string{"default/a": "10.244.1.2", "default/b": "10.244.1.3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Assign(tt.prev, tt.want)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.out) {
				t.Fatalf("got %v, want %v", got, tt.out)
			}
			for k, v := range tt.out {
				if got[k].String() != v {
					t.Errorf("%s = %v, want %s", k, got[k], v)
				}
			}
		})
	}
}

func TestAssignFull(t *testing.T) {
	t.Parallel()
	c := netip.MustParsePrefix("10.0.0.0/29") // .2-.6 usable: 5 pods
	var want []Want
	for i := range 6 {
		want = append(want, Want{fmt.Sprintf("ns/p%d", i), c})
	}
	if _, err := Assign(nil, want[:5]); err != nil {
		t.Fatalf("5 pods fit a /29: %v", err)
	}
	if _, err := Assign(nil, want); err == nil {
		t.Fatal("6 pods do not fit a /29")
	}
}

func TestFileStoreRoundTrip(t *testing.T) {
	t.Parallel()
	s := FileStore{Path: filepath.Join(t.TempDir(), "sub", "ipam.json")}
	a, err := s.Load()
	if err != nil || len(a) != 0 {
		t.Fatalf("empty load: %v %v", a, err)
	}
	in := Allocations{"default/a": addr("10.244.1.2")}
	if err := s.Save(in); err != nil {
		t.Fatal(err)
	}
	out, err := s.Load()
	if err != nil || out["default/a"] != in["default/a"] {
		t.Fatalf("round trip: %v %v", out, err)
	}
}

// FuzzAssign checks the allocator's invariants on arbitrary inputs: every pod
// gets a distinct usable address of its own CIDR, and a second run over the
// result changes nothing.
func FuzzAssign(f *testing.F) {
	f.Add(uint8(24), uint8(10), uint8(3), uint32(0x0af40100))
	f.Add(uint8(29), uint8(5), uint8(2), uint32(7))
	f.Fuzz(func(t *testing.T, bits, pods, nodes uint8, seed uint32) {
		bits = 24 + bits%7
		n := int(nodes%4) + 1
		cidrs, err := NodeCIDRs(netip.MustParsePrefix("10.244.0.0/16"), int(bits), n)
		if err != nil {
			t.Skip()
		}
		prev := Allocations{}
		var want []Want
		for i := range int(pods % 40) {
			c := cidrs[(i+int(seed))%n]
			key := fmt.Sprintf("ns/p%d", i)
			want = append(want, Want{key, c})
			// Arbitrary, possibly invalid or clashing previous addresses.
			b := c.Addr().As4()
			b[3] += byte(seed >> (i % 24))
			prev[key] = netip.AddrFrom4(b)
		}
		got, err := Assign(prev, want)
		if err != nil {
			return // a full CIDR is a legitimate answer
		}
		seen := map[netip.Addr]string{}
		for _, w := range want {
			a := got[w.Key]
			if !usable(w.CIDR, a) {
				t.Fatalf("%s got unusable %v in %v", w.Key, a, w.CIDR)
			}
			if other, dup := seen[a]; dup {
				t.Fatalf("%s and %s share %v", w.Key, other, a)
			}
			seen[a] = w.Key
		}
		again, err := Assign(got, want)
		if err != nil || fmt.Sprint(again) != fmt.Sprint(got) {
			t.Fatalf("second run changed the result: %v -> %v (%v)", got, again, err)
		}
	})
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func prefixes(ss []string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}
