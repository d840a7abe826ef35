package cli_test

import (
	"os"
	"strings"
	"testing"

	"kinn.dev/kinn/lab/trace"
)

// kinn trace on a lab whose pods the reference bridge plugin chain
// attached (examples/cni-bridge.yaml, its bridge renamed so nothing can
// pass for kinn's cni0): the chain's own devices are named as the chain's,
// and portmap's hostPort DNAT, a rule of a table kinn did not write, is
// told with its text read back from the kernel and the pod it serves.
func TestTraceChain(t *testing.T) {
	e := newEnv(t, "tchc")
	f := withPlugins(t, "../../examples/cni-bridge.yaml")
	raw, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	renamed := strings.Replace(string(raw), `"bridge": "cni0"`, `"bridge": "chainbr0"`, 1)
	if renamed == string(raw) {
		t.Fatal("the example's bridge is no longer cni0: update the test")
	}
	os.WriteFile(f, []byte(renamed), 0o644)
	e.up(f)

	t.Run("pod to Service through the chain's bridge", func(t *testing.T) {
		j, code := e.traceJSON(t, "client", "svc/web")
		if code != 0 || j.Verdict != trace.Delivered {
			t.Fatalf("exit %d, verdict %q; want 0, delivered: %+v", code, j.Verdict, j)
		}
		inOrder(t, j.Request, []func(trace.Hop) bool{
			func(h trace.Hop) bool {
				return h.Pod == "default/client" && h.Component == "route" && strings.Contains(h.Detail, "from the CNI chain")
			},
			func(h trace.Hop) bool {
				return h.Component == "nftables" && strings.HasPrefix(h.Action, "DNAT to ") && h.Owner != nil && h.Owner.Kind == "Pod"
			},
			func(h trace.Hop) bool {
				return h.Pod == "" && h.Component == "route" && h.Detail == "a pod of this node, through chainbr0, the CNI chain's bridge"
			},
			func(h trace.Hop) bool { return strings.HasPrefix(h.Pod, "default/web-") && h.Component == "socket" },
		})
		for _, h := range append(j.Request, j.Reply...) {
			if strings.Contains(h.Detail, "cni0") {
				t.Errorf("a hop names kinn's cni0 in a lab that has none: %+v", h)
			}
		}
	})
	t.Run("external to a hostPort through portmap", func(t *testing.T) {
		var node, podIP string
		for _, p := range e.pods() {
			if p.Name == "hostport" {
				node, podIP = p.Spec.NodeName, p.Status.PodIP
			}
		}
		j, code := e.traceJSON(t, "external", "node/"+node+":8081")
		if code != 0 || j.Verdict != trace.Delivered {
			t.Fatalf("exit %d, verdict %q; want 0, delivered: %+v", code, j.Verdict, j)
		}
		hostport := trace.Owner{Kind: "Pod", Namespace: "default", Name: "hostport"}
		inOrder(t, j.Request, []func(trace.Hop) bool{
			func(h trace.Hop) bool {
				return h.Node == node && h.Component == "nftables" && h.Action == "jump hostports_all" &&
					h.Rule == "fib daddr type local jump hostports_all" && strings.Contains(h.Detail, "cni_hostport")
			},
			func(h trace.Hop) bool {
				return h.Node == node && h.Component == "nftables" && h.Action == "DNAT to "+podIP+":8080" &&
					strings.HasPrefix(h.Rule, "tcp dport 8081 dnat to "+podIP+":8080 comment ") &&
					strings.Contains(h.Detail, "table ip cni_hostport chain hostports") && h.Owner != nil && *h.Owner == hostport
			},
			func(h trace.Hop) bool {
				return h.Node == node && h.Component == "route" && strings.Contains(h.Detail, "chainbr0, the CNI chain's bridge")
			},
			func(h trace.Hop) bool {
				return h.Node == node && h.Component == "conntrack" && strings.Contains(h.Action, "DNAT") && strings.Contains(h.Action, podIP+":8080")
			},
			func(h trace.Hop) bool { return h.Pod == "default/hostport" && h.Component == "socket" },
		})
		out, _, _ := e.run("trace", "--name", e.name, "-v", "external", "node/"+node+":8081")
		if !strings.Contains(out, "DNAT to "+podIP+":8080  [Pod default/hostport]") || !strings.Contains(out, "tcp dport 8081 dnat to "+podIP+":8080") {
			t.Errorf("text output does not tell portmap's DNAT with its pod and rule:\n%s", out)
		}
	})
	e.noTraceTables(t)
}
