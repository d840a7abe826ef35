package cli_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"kinn.dev/kinn/lab/kernel/nft"
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
  name: far-local
spec:
  type: NodePort
  externalTrafficPolicy: Local
  selector: {app: far}
  ports: [{port: 80, targetPort: 8080, nodePort: 30090}]
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
		// The answer's own way back, as the kernel traced it: sent by
		// far's listener, routed by both nodes, received by the prober.
		inOrder(t, j.Reply, []func(trace.Hop) bool{
			func(h trace.Hop) bool {
				return h.Pod == "default/far" && h.Component == "socket" && strings.Contains(h.Action, "SYN-ACK")
			},
			func(h trace.Hop) bool {
				return h.Node == farNode && h.Pod == "" && h.Component == "route" && strings.Contains(h.Detail, "VXLAN")
			},
			func(h trace.Hop) bool { return h.Node == clientNode && h.Pod == "" && h.Component == "route" },
			func(h trace.Hop) bool {
				return h.Pod == "default/client" && h.Component == "socket" && strings.Contains(h.Action, "reached the prober")
			},
		})
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
		inOrder(t, j.Request, []func(trace.Hop) bool{
			func(h trace.Hop) bool { return strings.HasPrefix(h.Action, "the only endpoint: goto ep-") },
		})
		inOrder(t, j.Reply, []func(trace.Hop) bool{
			func(h trace.Hop) bool { return h.Pod == "default/far" && strings.Contains(h.Action, "SYN-ACK") },
			func(h trace.Hop) bool {
				return h.Node == clientNode && h.Component == "conntrack" && strings.Contains(h.Action, "un-DNATed") &&
					strings.Contains(h.Action, e.svcIP("far")+":80")
			},
			func(h trace.Hop) bool { return h.Pod == "default/client" && h.Component == "socket" },
		})
	})
	t.Run("a Service's ClusterIP given as an address", func(t *testing.T) {
		j, code := e.traceJSON(t, "client", e.svcIP("far"), "--port", "80")
		if code != 0 || j.Verdict != trace.Delivered {
			t.Fatalf("exit %d, verdict %q; want 0, delivered: %+v", code, j.Verdict, j)
		}
		inOrder(t, j.Request, []func(trace.Hop) bool{
			func(h trace.Hop) bool { return h.Owner != nil && h.Owner.Kind == "Service" && h.Owner.Name == "far" },
			func(h trace.Hop) bool { return h.Pod == "default/far" && h.Component == "socket" },
		})
	})
	t.Run("pod to its own Service: hairpin", func(t *testing.T) {
		j, code := e.traceJSON(t, "far", "svc/far")
		if code != 0 || j.Verdict != trace.Delivered {
			t.Fatalf("exit %d, verdict %q; want 0, delivered: %+v", code, j.Verdict, j)
		}
		inOrder(t, j.Request, []func(trace.Hop) bool{
			func(h trace.Hop) bool {
				return h.Pod == "default/far" && h.Component == "route" && strings.Contains(h.Action, "to "+e.svcIP("far"))
			},
			func(h trace.Hop) bool { return h.Node == farNode && strings.HasPrefix(h.Action, "hairpin") },
			func(h trace.Hop) bool { return h.Node == farNode && strings.HasPrefix(h.Action, "masquerade") },
			func(h trace.Hop) bool {
				return h.Node == farNode && h.Component == "conntrack" && strings.Contains(h.Action, "DNAT") && strings.Contains(h.Action, "SNAT")
			},
			func(h trace.Hop) bool {
				return h.Pod == "default/far" && h.Component == "route" && strings.Contains(h.Action, "own address")
			},
			func(h trace.Hop) bool { return h.Pod == "default/far" && h.Component == "socket" },
		})
		inOrder(t, j.Reply, []func(trace.Hop) bool{
			func(h trace.Hop) bool { return h.Pod == "default/far" && strings.Contains(h.Action, "SYN-ACK") },
			func(h trace.Hop) bool {
				return h.Node == farNode && strings.Contains(h.Action, "un-DNATed") && strings.Contains(h.Action, "un-SNATed")
			},
			func(h trace.Hop) bool {
				return h.Pod == "default/far" && strings.Contains(h.Action, "reached the prober")
			},
		})
	})
	t.Run("a pod port nobody listens on", func(t *testing.T) {
		j, code := e.traceJSON(t, "client", "far", "--port", "9999")
		if code != 3 || j.Verdict != trace.RefusedV {
			t.Fatalf("exit %d, verdict %q; want 3, refused: %+v", code, j.Verdict, j)
		}
		inOrder(t, j.Request, []func(trace.Hop) bool{
			func(h trace.Hop) bool {
				return h.Pod == "default/far" && h.Component == "drop" && strings.Contains(h.Detail, "NO_SOCKET")
			},
		})
		inOrder(t, j.Reply, []func(trace.Hop) bool{
			func(h trace.Hop) bool {
				return h.Pod == "default/far" && h.Component == "socket" && strings.Contains(h.Action, "TCP reset (RST)")
			},
			func(h trace.Hop) bool { return h.Node == clientNode && h.Component == "route" },
			func(h trace.Hop) bool {
				return h.Pod == "default/client" && strings.Contains(h.Action, "refusal reached the prober")
			},
		})
	})
	t.Run("NodePort with externalTrafficPolicy Local", func(t *testing.T) {
		j, code := e.traceJSON(t, "external", "node/"+farNode+":30090")
		if code != 0 || j.Verdict != trace.Delivered {
			t.Fatalf("on the endpoint's node: exit %d, verdict %q; want 0, delivered: %+v", code, j.Verdict, j)
		}
		for _, h := range j.Request {
			if strings.HasPrefix(h.Action, "masquerade") || h.Component == "conntrack" && strings.Contains(h.Action, "SNAT") {
				t.Errorf("a Local policy keeps the client's address, yet: %+v", h)
			}
		}
		inOrder(t, j.Request, []func(trace.Hop) bool{
			func(h trace.Hop) bool {
				return h.Node == farNode && strings.HasPrefix(h.Action, "DNAT to "+e.podIP("far"))
			},
			func(h trace.Hop) bool { return h.Pod == "default/far" && h.Component == "socket" },
		})
		j, code = e.traceJSON(t, "external", "node/"+clientNode+":30090", "--timeout", "1s")
		if code != 3 || j.Verdict != trace.Dropped {
			t.Fatalf("on a node without endpoints: exit %d, verdict %q; want 3, dropped: %+v", code, j.Verdict, j)
		}
		inOrder(t, j.Request, []func(trace.Hop) bool{
			func(h trace.Hop) bool {
				return h.Node == clientNode && h.Component == "drop" && strings.Contains(h.Action, "externalTrafficPolicy Local") &&
					h.Owner != nil && h.Owner.Name == "far-local"
			},
		})
	})
	t.Run("two traces at once", func(t *testing.T) {
		type res struct {
			out  string
			code int
		}
		done := make(chan res, 2)
		for range 2 {
			go func() {
				out, _, code := e.run("trace", "--name", e.name, "-o", "json", "client", "svc/far")
				done <- res{out, code}
			}()
		}
		// Each tells its own probe: every client address:port its hops
		// name (conntrack's tuples, the answer's destination, the
		// prober's socket) is one, and the two traces' differ.
		clientIP := regexp.QuoteMeta(e.podIP("client"))
		ports := regexp.MustCompile(clientIP + `:(\d+)`)
		var seen []string
		for range 2 {
			r := <-done
			var j trace.Journey
			if err := json.Unmarshal([]byte(r.out), &j); err != nil || r.code != 0 || j.Verdict != trace.Delivered {
				t.Errorf("exit %d, %v: %s", r.code, err, r.out)
				continue
			}
			mine := map[string]bool{}
			for _, h := range append(slices.Clone(j.Request), j.Reply...) {
				for _, m := range ports.FindAllStringSubmatch(h.Action+" "+h.Detail, -1) {
					mine[m[1]] = true
				}
			}
			if len(mine) != 1 {
				t.Errorf("one trace names %d client ports %v: another probe's hops are in it", len(mine), mine)
			}
			for p := range mine {
				seen = append(seen, p)
			}
		}
		if len(seen) == 2 && seen[0] == seen[1] {
			t.Errorf("both traces tell the probe from port %s", seen[0])
		}
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
			answer := map[string]string{"icmp": "echo reply", "udp": "a UDP answer"}[args[3]]
			inOrder(t, j.Reply, []func(trace.Hop) bool{
				func(h trace.Hop) bool { return h.Pod == "default/far" && strings.Contains(h.Action, answer) },
				func(h trace.Hop) bool {
					return h.Node == farNode && h.Pod == "" && h.Component == "route" && strings.Contains(h.Detail, "VXLAN")
				},
				func(h trace.Hop) bool { return strings.Contains(h.Action, "reached the prober") },
			})
		}
	})
	t.Run("ICMP from a node to a ClusterIP", func(t *testing.T) {
		// kube-proxy rejects what no Service port serves, in the node's
		// own output path: the send fails with EPERM, the reject is named.
		j, code := e.traceJSON(t, "node/"+clientNode, "svc/far", "--proto", "icmp", "--timeout", "1s")
		if code != 3 || j.Verdict != trace.Dropped {
			t.Fatalf("exit %d, verdict %q; want 3, dropped: %+v", code, j.Verdict, j)
		}
		if !strings.Contains(j.Summary, "no port of the Service at this address matches") || !strings.Contains(j.Summary, "EPERM") {
			t.Errorf("summary %q does not name the reject and the failed send", j.Summary)
		}
		for _, h := range j.Reply {
			if h.Component == "drop" {
				t.Errorf("the reject's own ICMP error, delivered on loopback, is told as a drop: %+v", h)
			}
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
		e.waitTraceTables(t, clientNode, true)
		cmd.Process.Signal(os.Interrupt)
		start := time.Now()
		err := cmd.Wait()
		if time.Since(start) > 5*time.Second {
			t.Errorf("kinn trace took %s to stop after SIGINT", time.Since(start))
		}
		if cmd.ProcessState.ExitCode() == 0 {
			t.Errorf("an interrupted trace exits 0 (%v): it delivered nothing", err)
		}
		e.noTraceTables(t)
		e.traceLockEmpty(t)
	})
	t.Run("SIGKILL, then kinn up", func(t *testing.T) {
		cmd := kinnCmd(e.dirs, "trace", "--name", e.name, "client", "10.96.255.254", "--port", "80", "--timeout", "20s")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		e.waitTraceTables(t, clientNode, true)
		cmd.Process.Kill()
		cmd.Wait()
		e.waitTraceTables(t, clientNode, true) // nothing ran to remove them
		_, errOut, _ := e.run("up", "--name", e.name)
		if !strings.Contains(errOut, "left in kinn."+e.name+".node."+clientNode+" by a killed kinn trace") {
			t.Errorf("kinn up did not say it removed the killed trace's tables:\n%s", errOut)
		}
		e.noTraceTables(t)
		e.traceLockEmpty(t)
	})
	t.Run("kinn up leaves a running trace's tables alone", func(t *testing.T) {
		cmd := kinnCmd(e.dirs, "trace", "--name", e.name, "-o", "json", "client", "10.96.255.254", "--port", "80", "--timeout", "6s")
		var out strings.Builder
		cmd.Stdout = &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		e.waitTraceTables(t, clientNode, true)
		e.must("up", "--name", e.name)
		e.waitTraceTables(t, clientNode, true)
		cmd.Wait()
		var j trace.Journey
		if err := json.Unmarshal([]byte(out.String()), &j); err != nil || j.Verdict != trace.Dropped ||
			!slices.ContainsFunc(j.Request, func(h trace.Hop) bool { return strings.Contains(h.Detail, "cluster-ips-check") }) {
			t.Errorf("the trace running through kinn up lost its story (%v): %s", err, out.String())
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
}

// traceLockEmpty checks that no trace left namespaces listed as possibly
// marked in the lab's trace lock file: its cleanup went all the way.
func (e *env) traceLockEmpty(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.opts().RuntimeDir(e.name), "trace.lock"))
	if err != nil || strings.TrimSpace(string(b)) != "" {
		t.Errorf("trace.lock (%v) still lists: %q", err, b)
	}
}

// waitTraceTables waits until a trace table is (or is not) in node's
// namespace.
func (e *env) waitTraceTables(t *testing.T, node string, present bool) {
	t.Helper()
	ns := "kinn." + e.name + ".node." + node
	for deadline := time.Now().Add(10 * time.Second); ; {
		out, err := exec.Command("ip", "netns", "exec", ns, "nft", "list", "tables").CombinedOutput()
		if err != nil {
			t.Fatalf("nft list tables in %s: %v %s", ns, err, out)
		}
		if strings.Contains(string(out), trace.TablePrefix) == present {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("trace table in %s: want present=%v, tables:\n%s", ns, present, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
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
		if n, err := nft.TraceLabeled(ns); err != nil || n > 0 {
			t.Errorf("%d conntrack entries in %s keep the trace's label (%v)", n, ns, err)
		}
	}
	if n == 0 {
		t.Fatal("no namespace of the lab found")
	}
	// The host's own namespace is never given one.
	if tables, err := exec.Command("nft", "list", "tables").CombinedOutput(); err != nil || strings.Contains(string(tables), trace.TablePrefix) {
		t.Errorf("the host's namespace (%v):\n%s", err, tables)
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

// checkSchema validates a journey, as JSON, against the documented schema.
func checkSchema(t *testing.T, j trace.Journey) {
	t.Helper()
	b, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	if err := tracetest.Validate(b); err != nil {
		t.Errorf("journey does not validate against %s: %v\n%s", tracetest.SchemaPath(), err, b)
	}
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
