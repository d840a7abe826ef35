package cli_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"kinn.dev/kinn/lab/trace"
	"kinn.dev/kinn/lab/trace/tracetest"
)

// kinn trace end to end on the default lab: a real probe, traced by the
// kernel in every namespace, told in Kubernetes terms; and nothing left
// behind in any of the lab's namespaces afterwards.

const traceFar = `apiVersion: v1
kind: Pod
metadata:
  name: far
  labels: {app: far}
spec:
  nodeName: NODE
  containers:
  - name: far
    image: registry.k8s.io/e2e-test-images/agnhost:2.53
    args: [netexec, --http-port=8080]
    ports: [{containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata:
  name: far
spec:
  selector: {app: far}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata:
  name: empty
spec:
  selector: {app: nobody}
  ports: [{port: 80}]
`

func TestTrace(t *testing.T) {
	e := newEnv(t, "trace")
	e.up("")
	var clientNode string
	for _, p := range e.pods() {
		if p.Name == "client" {
			clientNode = p.Spec.NodeName
		}
	}
	farNode := ""
	for _, n := range e.nodes() {
		if n.Name != clientNode && !strings.Contains(n.Name, "control-plane") {
			farNode = n.Name
		}
	}
	e.apply(strings.Replace(traceFar, "NODE", farNode, 1))
	e.waitPod("far", func(p corev1.Pod) bool {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				return true
			}
		}
		return false
	})

	t.Run("pod to pod across nodes", func(t *testing.T) {
		j, code := e.traceJSON(t, "client", "far")
		if code != 0 || j.Verdict != trace.Delivered {
			t.Fatalf("exit %d, verdict %q; want 0, delivered: %+v", code, j.Verdict, j)
		}
		want := []func(trace.Hop) bool{
			func(h trace.Hop) bool { return h.Pod == "default/client" && h.Component == "route" },
			func(h trace.Hop) bool {
				return h.Node == clientNode && h.Pod == "" && h.Component == "route" && strings.Contains(h.Detail, "VXLAN") && strings.Contains(h.Detail, farNode)
			},
			func(h trace.Hop) bool { return h.Node == farNode && h.Pod == "" && strings.Contains(h.Detail, "cni0") },
			func(h trace.Hop) bool { return h.Pod == "default/far" && h.Component == "socket" },
		}
		inOrder(t, j.Request, want)
		if len(j.Reply) == 0 || j.Reply[len(j.Reply)-1].Pod != "default/client" {
			t.Errorf("reply does not end at the client: %+v", j.Reply)
		}
	})
	t.Run("pod to ClusterIP with its endpoint on another node", func(t *testing.T) {
		j, code := e.traceJSON(t, "client", "svc/far")
		if code != 0 || j.Verdict != trace.Delivered {
			t.Fatalf("exit %d, verdict %q; want 0, delivered: %+v", code, j.Verdict, j)
		}
		farIP := e.podIP("far")
		inOrder(t, j.Request, []func(trace.Hop) bool{
			func(h trace.Hop) bool {
				return h.Component == "nftables" && h.Owner != nil && *h.Owner == trace.Owner{Kind: "Service", Namespace: "default", Name: "far"}
			},
			func(h trace.Hop) bool {
				return h.Component == "nftables" && strings.HasPrefix(h.Action, "DNAT to "+farIP+":8080") &&
					h.Owner != nil && h.Owner.Kind == "Pod" && h.Owner.Name == "far" && strings.Contains(h.Rule, "dnat to "+farIP)
			},
			func(h trace.Hop) bool {
				return h.Node == clientNode && h.Component == "route" && strings.Contains(h.Detail, "VXLAN")
			},
			func(h trace.Hop) bool {
				return h.Node == clientNode && h.Component == "conntrack" && strings.Contains(h.Action, "DNAT") && strings.Contains(h.Action, farIP+":8080")
			},
			func(h trace.Hop) bool { return h.Pod == "default/far" && h.Component == "socket" },
		})
	})
	t.Run("Service without endpoints", func(t *testing.T) {
		j, code := e.traceJSON(t, "client", "svc/empty")
		if code != 3 || j.Verdict != trace.RefusedV {
			t.Fatalf("exit %d, verdict %q; want 3, refused: %+v", code, j.Verdict, j)
		}
		inOrder(t, j.Request, []func(trace.Hop) bool{
			func(h trace.Hop) bool {
				return h.Component == "drop" && h.Node == clientNode && strings.Contains(h.Action, "no ready endpoints") &&
					strings.HasSuffix(h.Rule, "reject") && h.Owner != nil && h.Owner.Name == "empty"
			},
		})
		out, _, _ := e.run("trace", "--name", e.name, "client", "svc/empty")
		if !strings.Contains(out, "✗ REFUSED") || !strings.Contains(out, "Service default/empty") {
			t.Errorf("text output does not name the refusal and the Service:\n%s", out)
		}
	})
	t.Run("external to a NodePort", func(t *testing.T) {
		j, code := e.traceJSON(t, "external", "node/"+clientNode+":30080")
		if code != 0 || j.Verdict != trace.Delivered {
			t.Fatalf("exit %d, verdict %q; want 0, delivered: %+v", code, j.Verdict, j)
		}
		inOrder(t, j.Request, []func(trace.Hop) bool{
			func(h trace.Hop) bool { return h.Namespace == "kinn."+e.name+".switch" && h.Component == "route" },
			func(h trace.Hop) bool {
				return h.Node == clientNode && h.Owner != nil && h.Owner.Kind == "Pod" && strings.HasPrefix(h.Action, "DNAT to ") &&
					strings.Contains(h.Detail, "Service default/web-nodeport")
			},
			func(h trace.Hop) bool { return h.Node == clientNode && strings.HasPrefix(h.Action, "masquerade") },
			func(h trace.Hop) bool {
				return h.Node == clientNode && h.Component == "conntrack" && strings.Contains(h.Action, "DNAT") && strings.Contains(h.Action, "SNAT")
			},
		})
		inOrder(t, j.Reply, []func(trace.Hop) bool{
			func(h trace.Hop) bool { return h.Node == clientNode && strings.Contains(h.Action, "un-SNATed") },
		})
	})
	t.Run("ICMP and UDP", func(t *testing.T) {
		for _, args := range [][]string{{"node/" + clientNode, "far", "--proto", "icmp"}, {"client", "far", "--proto", "udp", "--port", "8081"}} {
			j, code := e.traceJSON(t, args...)
			if code != 0 || j.Verdict != trace.Delivered {
				t.Errorf("kinn trace %v: exit %d, verdict %q; want 0, delivered: %+v", args, code, j.Verdict, j)
				continue
			}
			inOrder(t, j.Request, []func(trace.Hop) bool{
				func(h trace.Hop) bool {
					return h.Node == clientNode && h.Component == "route" && strings.Contains(h.Detail, "VXLAN")
				},
				func(h trace.Hop) bool { return h.Pod == "default/far" && h.Component == "socket" },
			})
		}
	})
	t.Run("bad input", func(t *testing.T) {
		for _, args := range [][]string{{"client", "nope"}, {"nobody", "far"}, {"client", "svc/nope"}, {"client", "far", "--proto", "sctp"}, {"client"}} {
			_, errOut, code := e.run(append([]string{"trace", "--name", e.name}, args...)...)
			if code != 2 || errOut == "" {
				t.Errorf("kinn trace %v: exit %d, %q; want 2 and a message", args, code, errOut)
			}
		}
	})
	t.Run("Ctrl-C while waiting", func(t *testing.T) {
		// An unallocated address of the service network is dropped: the
		// prober waits for its timeout, and is interrupted first.
		cmd := kinnCmd(e.dirs, "trace", "--name", e.name, "client", "10.96.255.254", "--port", "80", "--timeout", "20s")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		cmd.Process.Signal(os.Interrupt)
		start := time.Now()
		cmd.Wait()
		if time.Since(start) > 5*time.Second {
			t.Errorf("kinn trace took %s to stop after SIGINT", time.Since(start))
		}
		e.noTraceTables(t)
	})
	t.Run("dropped", func(t *testing.T) {
		j, code := e.traceJSON(t, "client", "10.96.255.254", "--port", "80", "--timeout", "1s")
		if code != 3 || j.Verdict != trace.Dropped {
			t.Fatalf("exit %d, verdict %q; want 3, dropped: %+v", code, j.Verdict, j)
		}
		inOrder(t, j.Request, []func(trace.Hop) bool{
			func(h trace.Hop) bool {
				return h.Component == "drop" && h.Node == clientNode && strings.Contains(h.Detail, "cluster-ips-check")
			},
		})
	})
	t.Run("the kernel's drop reason", func(t *testing.T) {
		// Nobody listens on UDP 9999 in far: no nftables rule drops it,
		// only the kernel can say why it ends there.
		args := []string{"client", "far", "--proto", "udp", "--port", "9999", "--timeout", "1s"}
		j, code := e.traceJSON(t, args...)
		if code != 3 || j.Verdict == trace.Delivered {
			t.Fatalf("exit %d, verdict %q; want 3, not delivered: %+v", code, j.Verdict, j)
		}
		inOrder(t, j.Request, []func(trace.Hop) bool{
			func(h trace.Hop) bool {
				return h.Pod == "default/far" && h.Component == "drop" && h.Action == "no socket listens on that port" &&
					strings.Contains(h.Detail, "NO_SOCKET")
			},
		})
		if !strings.Contains(j.Summary, "default/far: no socket listens on that port") {
			t.Errorf("summary %q does not name the kernel's reason", j.Summary)
		}
		out, _, _ := e.run(append([]string{"trace", "--name", e.name}, args...)...)
		if !strings.Contains(out, "no socket listens on that port") || !strings.Contains(out, "kernel drop reason NO_SOCKET") {
			t.Errorf("text output does not name the kernel's reason:\n%s", out)
		}
	})
	e.noTraceTables(t)
	t.Run("kinn up removes what a killed trace left", func(t *testing.T) {
		ns := "kinn." + e.name + ".node." + farNode
		if out, err := exec.Command("ip", "netns", "exec", ns, "nft", "add", "table", "ip", trace.TablePrefix+"killed").CombinedOutput(); err != nil {
			t.Fatalf("%v %s", err, out)
		}
		_, errOut, _ := e.run("up", "--name", e.name)
		if !strings.Contains(errOut, "removed "+trace.TablePrefix+"killed") {
			t.Errorf("kinn up did not say it removed the stale table:\n%s", errOut)
		}
		e.noTraceTables(t)
	})
}

// noTraceTables checks that no namespace of the lab holds a trace table.
func (e *env) noTraceTables(t *testing.T) {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range strings.Split(string(out), "\n") {
		ns, _, _ := strings.Cut(l, " ")
		if !strings.HasPrefix(ns, "kinn."+e.name+".") {
			continue
		}
		n++
		tables, err := exec.Command("ip", "netns", "exec", ns, "nft", "list", "tables").CombinedOutput()
		if err != nil {
			t.Fatalf("nft list tables in %s: %v %s", ns, err, tables)
		}
		if strings.Contains(string(tables), trace.TablePrefix) {
			t.Errorf("a trace table is left in %s:\n%s", ns, tables)
		}
	}
	if n == 0 {
		t.Fatal("no namespace of the lab found")
	}
}

// traceJSON runs kinn trace -o json and decodes the journey.
func (e *env) traceJSON(t *testing.T, args ...string) (trace.Journey, int) {
	t.Helper()
	out, errOut, code := e.run(append([]string{"trace", "--name", e.name, "-o", "json"}, args...)...)
	var j trace.Journey
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields() // the README's schema, nothing more
	if err := dec.Decode(&j); err != nil {
		t.Fatalf("kinn trace %v: exit %d, %v\n%s%s", args, code, err, out, errOut)
	}
	if err := tracetest.Validate([]byte(out)); err != nil {
		t.Errorf("kinn trace %v -o json does not validate against %s: %v\n%s", args, tracetest.SchemaPath(), err, out)
	}
	return j, code
}

// inOrder checks that hops has a hop matching each of want, in that order.
func inOrder(t *testing.T, hops []trace.Hop, want []func(trace.Hop) bool) {
	t.Helper()
	i := 0
	for _, h := range hops {
		if i < len(want) && want[i](h) {
			i++
		}
	}
	if i < len(want) {
		b, _ := json.MarshalIndent(hops, "", "  ")
		t.Errorf("hop %d of %d expected not found in order in:\n%s", i+1, len(want), b)
	}
}
