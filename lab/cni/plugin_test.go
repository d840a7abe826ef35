package cni

import (
	"encoding/json"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
)

// The protocol edge of the in-process plugin, without root: what a runtime
// gets back for VERSION, a bad configuration and an unknown command must be
// exactly what the binary would print.

func env(cmd string) []string {
	return []string{"CNI_COMMAND=" + cmd, "CNI_CONTAINERID=c1", "CNI_NETNS=/nonexistent", "CNI_IFNAME=eth0", "CNI_PATH=/opt/cni/bin"}
}

func TestBuiltinVersion(t *testing.T) {
	t.Parallel()
	out, err := runBuiltin([]byte(`{"cniVersion":"1.1.0"}`), env("VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		CNIVersion        string   `json:"cniVersion"`
		SupportedVersions []string `json:"supportedVersions"`
	}
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("VERSION output %q: %v", out, err)
	}
	if !strings.Contains(strings.Join(v.SupportedVersions, ","), "1.1.0") {
		t.Errorf("supported versions %v lack 1.1.0", v.SupportedVersions)
	}
}

func TestBuiltinErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		stdin string
		cmd   string
		code  uint
	}{
		{"unparsable configuration", `{`, "ADD", types.ErrDecodingFailure},
		{"missing bridge", `{"cniVersion":"1.1.0","name":"n","type":"kinn"}`, "ADD", types.ErrInvalidNetworkConfig},
		{"no address given", `{"cniVersion":"1.1.0","name":"n","type":"kinn","bridge":"cni0","gateway":"10.0.0.1"}`, "ADD", types.ErrInvalidNetworkConfig},
		{"unknown command", `{"cniVersion":"1.1.0","name":"n","type":"kinn","bridge":"cni0","gateway":"10.0.0.1"}`, "FROB", types.ErrInvalidEnvironmentVariables},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := runBuiltin([]byte(tt.stdin), env(tt.cmd))
			var te *types.Error
			if !errors.As(err, &te) {
				t.Fatalf("want a CNI error, got %v", err)
			}
			if te.Code != tt.code {
				t.Errorf("code %d (%s), want %d", te.Code, te.Msg, tt.code)
			}
			if b, _ := json.Marshal(te); !strings.Contains(string(b), `"code"`) || !strings.Contains(string(b), `"msg"`) {
				t.Errorf("error JSON %s lacks code or msg", b)
			}
		})
	}
}

func TestDelWithoutNamespaceSucceeds(t *testing.T) {
	t.Parallel()
	conf := `{"cniVersion":"1.1.0","name":"n","type":"kinn","bridge":"cni0","gateway":"10.0.0.1"}`
	if _, err := runBuiltin([]byte(conf), env("DEL")); err != nil {
		t.Fatalf("DEL of a pod whose namespace is gone must succeed: %v", err)
	}
}

// TestChainedKeepsPrevResult: a plugin later in a chain returns the earlier
// plugins' interfaces and addresses with its own, indexes shifted.
func TestChainedKeepsPrevResult(t *testing.T) {
	t.Parallel()
	conf := `{"cniVersion":"1.1.0","name":"n","type":"kinn","bridge":"b","subnet":"10.0.0.0/24",
	  "prevResult":{"cniVersion":"1.1.0","interfaces":[{"name":"lo","sandbox":"/x"}],"ips":[{"interface":0,"address":"127.0.0.1/8"}]}}`
	c, err := parseConf([]byte(conf))
	if err != nil {
		t.Fatal(err)
	}
	own := &current.Result{CNIVersion: "1.1.0",
		Interfaces: []*current.Interface{{Name: "b"}, {Name: "eth0", Sandbox: "/x"}},
		IPs:        []*current.IPConfig{{Interface: current.Int(1), Address: *mustCIDR(t, "10.0.0.5/24")}}}
	r, err := chained(c, own)
	if err != nil {
		t.Fatal(err)
	}
	got := r.(*current.Result)
	if len(got.Interfaces) != 3 || got.Interfaces[0].Name != "lo" || len(got.IPs) != 2 || *got.IPs[1].Interface != 2 {
		b, _ := json.Marshal(got)
		t.Errorf("chained result %s", b)
	}
	if c.Gateway != "10.0.0.1" {
		t.Errorf("gateway from subnet = %q, want 10.0.0.1", c.Gateway)
	}
}

func mustCIDR(t *testing.T, s string) *net.IPNet {
	ip, n, err := net.ParseCIDR(s)
	if err != nil {
		t.Fatal(err)
	}
	n.IP = ip
	return n
}
