package cni

import (
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	current "github.com/containernetworking/cni/pkg/types/100"

	"kinn.dev/kinn/lab/plan"
	"kinn.dev/kinn/topology"
)

const bridgeList = `{"cniVersion": "1.1.0", "name": "net", "plugins": [
  {"type": "bridge", "ipam": {"type": "host-local", "ranges": [{{range .PodCIDRRanges}}[{"subnet": "{{.}}"}]{{end}}]}},
  {"type": "ptp", "ipam": {"type": "host-local", "dataDir": "/mine", "ranges": [[{"subnet": "{{.PodCIDR}}"}]]}},
  {"type": "meta", "delegate": {"ipam": {"type": "host-local", "ranges": [[{"subnet": "{{.PodCIDR}}"}]]}}}]}`

func node(cidr string) plan.Node {
	return plan.Node{Name: "n1", PodCIDR: netip.MustParsePrefix(cidr)}
}

func TestRenderFillsNodeValues(t *testing.T) {
	t.Parallel()
	ch, err := LoadChain(&topology.CNIConfig{ConfList: bridgeList, BinDir: "bin", Dir: "/labs"})
	if err != nil {
		t.Fatal(err)
	}
	if ch.BinDir != "/labs/bin" {
		t.Errorf("binDir = %q, want it relative to the topology file", ch.BinDir)
	}
	b, err := ch.Render(node("10.244.3.0/24"), "/state/n1")
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Plugins []struct {
			IPAM struct {
				DataDir string                `json:"dataDir"`
				Ranges  [][]map[string]string `json:"ranges"`
			} `json:"ipam"`
		} `json:"plugins"`
	}
	if err := json.Unmarshal(b, &list); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"delegate":{"ipam":{"dataDir":"/state/n1/networks"`) {
		t.Errorf("a nested host-local section keeps the host's /var/lib/cni: %s", b)
	}
	for i, want := range []string{"/state/n1/networks", "/mine"} {
		ipam := list.Plugins[i].IPAM
		if ipam.DataDir != want || ipam.Ranges[0][0]["subnet"] != "10.244.3.0/24" {
			t.Errorf("plugin %d ipam = %+v, want dataDir %s and the node's CIDR", i, ipam, want)
		}
	}
}

// TestTemplateFields renders every field a configuration may use for one
// node of a cluster.
func TestTemplateFields(t *testing.T) {
	t.Parallel()
	list := `{"cniVersion": "1.1.0", "name": "n", "plugins": [{"type": "x",
	  "v": "{{.NodeName}} {{.NodeIP}} {{.PodCIDR}} {{.PodSubnet}} {{.ServiceSubnet}} {{.Gateway}} {{.MTU}} {{.SubnetFile}} {{range .Routes}}{{.}}{{end}} {{index .PodCIDRRanges 0}}"}]}`
	ch, err := LoadChain(&topology.CNIConfig{ConfList: list})
	if err != nil {
		t.Fatal(err)
	}
	ch.PodSubnet, ch.ServiceSubnet = netip.MustParsePrefix("10.244.0.0/16"), netip.MustParsePrefix("10.96.0.0/16")
	n := plan.Node{Name: "kind-worker", Underlay: netip.MustParsePrefix("172.18.0.3/16"), PodCIDR: netip.MustParsePrefix("10.244.1.0/24"),
		Gateway: netip.MustParsePrefix("10.244.1.1/24"), PodMTU: 1450}
	b, err := ch.Render(n, "/state/kind-worker")
	if err != nil {
		t.Fatal(err)
	}
	want := "kind-worker 172.18.0.3 10.244.1.0/24 10.244.0.0/16 10.96.0.0/16 10.244.1.1 1450 /state/kind-worker/run/flannel/subnet.env 0.0.0.0/0 10.244.1.0/24"
	if !strings.Contains(string(b), `"v":"`+want+`"`) {
		t.Errorf("rendered %s\nwant v = %s", b, want)
	}
}

// TestSubnetEnv is what flanneld writes for a node's lease.
func TestSubnetEnv(t *testing.T) {
	t.Parallel()
	n := plan.Node{PodCIDR: netip.MustParsePrefix("10.244.1.0/24"), PodMTU: 1450}
	got := string(SubnetEnv(netip.MustParsePrefix("10.244.0.0/16"), n))
	want := "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n"
	if got != want {
		t.Errorf("subnet.env:\n%s\nwant\n%s", got, want)
	}
}

func TestLoadChainFromFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "10-net.conflist"), []byte(bridgeList), 0o644); err != nil {
		t.Fatal(err)
	}
	ch, err := LoadChain(&topology.CNIConfig{ConfList: "10-net.conflist", Dir: dir})
	if err != nil || ch.Where != filepath.Join(dir, "10-net.conflist") {
		t.Fatalf("chain %+v, %v", ch, err)
	}
	_, err = LoadChain(&topology.CNIConfig{ConfList: "missing.conflist", Dir: dir, ConfListPos: topology.Pos{File: "lab.yaml", Line: 3, Col: 13}})
	if err == nil || !strings.Contains(err.Error(), "lab.yaml:3:13 (cni.confList): cannot read") {
		t.Errorf("missing file: %v", err)
	}
}

// TestCheckFindsProblemsBeforeAnything names the place, the plugin and
// what to change for each kind of mistake.
func TestCheckFindsProblemsBeforeAnything(t *testing.T) {
	t.Parallel()
	empty := t.TempDir()
	pos := topology.Pos{File: "lab.yaml", Line: 7, Col: 13}
	for _, tc := range []struct{ name, list, want string }{
		{"bad json", `{"cniVersion": "1.1.0", "plugins": [}`, "lab.yaml:7:13 (cni.confList): does not parse as JSON"},
		{"bad template", `{"x": "{{.NoSuchField}}"}`, "lab.yaml:7:13 (cni.confList): template"},
		{"no binary", `{"cniVersion": "1.1.0", "name": "n", "plugins": [{"type": "bridge"}]}`,
			`plugin "bridge": no executable bridge in binDir ` + empty + `: build it there or fix cni.binDir`},
		{"no plugins", `{"cniVersion": "1.1.0", "name": "n", "plugins": []}`, "no plugins"},
		{"old version", `{"cniVersion": "0.2.0", "name": "n", "plugins": [{"type": "kinn", "bridge": "b", "subnet": "{{.PodCIDR}}"}]}`,
			`plugin "kinn" speaks CNI 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0, not the list's cniVersion "0.2.0": change cniVersion`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch, err := LoadChain(&topology.CNIConfig{ConfList: tc.list, BinDir: empty, ConfListPos: pos})
			if err == nil {
				err = ch.Check(context.Background(), node("10.244.0.0/24"))
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

func TestAddressPicksThePodsInterface(t *testing.T) {
	t.Parallel()
	raw := `{"cniVersion": "1.1.0",
	  "interfaces": [{"name": "cni0"}, {"name": "veth1"}, {"name": "eth0", "sandbox": "/run/netns/p"}],
	  "ips": [{"interface": 0, "address": "10.244.1.1/24"}, {"interface": 2, "address": "10.244.1.7/24", "gateway": "10.244.1.1"}],
	  "routes": [{"dst": "0.0.0.0/0"}]}`
	res, err := current.NewResult([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	ip, gw, err := Address(res)
	if err != nil || ip != netip.MustParsePrefix("10.244.1.7/24") || gw != netip.MustParseAddr("10.244.1.1") {
		t.Errorf("Address = %v %v %v", ip, gw, err)
	}
}

func TestHostInterface(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ raw, want string }{
		{`{"cniVersion":"1.1.0","interfaces":[{"name":"cni0"},{"name":"veth1a2b"},{"name":"eth0","sandbox":"/p"}]}`, "veth1a2b"},
		{`{"cniVersion":"1.1.0","interfaces":[{"name":"veth9"},{"name":"eth0","sandbox":"/p"}]}`, "veth9"},
		{`{"cniVersion":"1.1.0","interfaces":[{"name":"eth0","sandbox":"/p"}]}`, ""},
		{`{"cniVersion":"1.1.0","ips":[{"address":"10.0.0.2/24"}]}`, ""},
	} {
		res, err := current.NewResult([]byte(tc.raw))
		if err != nil {
			t.Fatal(err)
		}
		if got := HostInterface(res); got != tc.want {
			t.Errorf("HostInterface(%s) = %q, want %q", tc.raw, got, tc.want)
		}
	}
}
