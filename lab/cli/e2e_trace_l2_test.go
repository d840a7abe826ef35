package cli_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"kinn.dev/kinn/lab/trace"
)

// kinn trace's layer-2 hops end to end: on the default lab (VXLAN) the
// neighbour, FDB entry and outer header each node used, the
// decapsulation on the far node, the bridge port and the pod interface,
// each checked against the kernel's own tables read with iproute2; an FDB
// entry and a route deleted by hand named as the drop; and on the host-gw
// example, the next-hop node and the switch port towards it.

// l2Lab is a lab's pods and nodes as the layer-2 checks need them.
type l2Lab struct {
	*env
	nodeNS map[string]string // node name -> its namespace
	pods   map[string]corev1.Pod
}

func newL2Lab(t *testing.T, file string) *l2Lab {
	l := &l2Lab{env: newEnv(t, "tl2"), nodeNS: map[string]string{}, pods: map[string]corev1.Pod{}}
	l.up(file)
	for _, n := range l.nodes() {
		l.nodeNS[n.Name] = netnsOf(&n)
	}
	for _, p := range l.userPods() {
		l.pods[p.Name] = p
	}
	return l
}

// webPods picks a web pod on node and one elsewhere (not on the control
// plane, which the examples' Deployments do not use).
func (l *l2Lab) webPods(t *testing.T, node string) (near, far corev1.Pod) {
	t.Helper()
	for _, p := range l.pods {
		switch {
		case !strings.HasPrefix(p.Name, "web-"):
		case p.Spec.NodeName == node && near.Name == "":
			near = p
		case p.Spec.NodeName != node && far.Name == "":
			far = p
		}
	}
	if near.Name == "" || far.Name == "" {
		t.Fatalf("no web pod on %s and one elsewhere among %v", node, l.pods)
	}
	return near, far
}

// hostVeth is the pod's veth in its node.
func (l *l2Lab) hostVeth(t *testing.T, p corev1.Pod) string {
	return peerOf(t, netnsOf(&p), l.nodeNS[p.Spec.NodeName])
}

// peerOf names the other end, in peerNS, of the veth eth0 in ns, by the
// peer index the kernel gives (not by the FDB the trace reads).
func peerOf(t *testing.T, ns, peerNS string) string {
	t.Helper()
	m := regexp.MustCompile(`eth0@if(\d+)`).FindStringSubmatch(ipn(t, "ip", "-n", ns, "-o", "link", "show", "eth0"))
	if m == nil {
		t.Fatalf("no peer index for eth0 in %s", ns)
	}
	m2 := regexp.MustCompile(`(?m)^` + m[1] + `: ([^@:]+)`).FindStringSubmatch(ipn(t, "ip", "-n", peerNS, "-o", "link"))
	if m2 == nil {
		t.Fatalf("no link %s in %s", m[1], peerNS)
	}
	return m2[1]
}

// vtepNeigh is the MAC the node's neighbour table gives another node's
// VTEP address (its pod CIDR's .0) on vxlan.1.
func (l *l2Lab) vtepNeigh(t *testing.T, node, other string) (ip, mac string) {
	t.Helper()
	var cidr string
	for _, n := range l.nodes() {
		if n.Name == other {
			cidr = n.Spec.PodCIDR
		}
	}
	ip, _, _ = strings.Cut(cidr, "/")
	f := strings.Fields(ipn(t, "ip", "-n", l.nodeNS[node], "neigh", "show", ip, "dev", "vxlan.1"))
	if len(f) < 3 || f[1] != "lladdr" {
		t.Fatalf("no neighbour %s on vxlan.1 in %s: %v", ip, node, f)
	}
	return ip, f[2]
}

func TestTraceLayer2(t *testing.T) {
	t.Run("VXLAN", func(t *testing.T) {
		t.Parallel()
		l := newL2Lab(t, "")
		client := l.pods["client"]
		cn := client.Spec.NodeName
		near, far := l.webPods(t, cn)
		fn := far.Spec.NodeName
		t.Run("pod to pod on one node", func(t *testing.T) {
			j, code := l.traceJSON(t, "client", near.Name)
			if code != 0 || j.Verdict != trace.Delivered {
				t.Fatalf("exit %d, verdict %q; want 0, delivered: %+v", code, j.Verdict, j)
			}
			port := l.hostVeth(t, near)
			inOrder(t, j.Request, []func(trace.Hop) bool{
				func(h trace.Hop) bool {
					return h.Pod == "default/client" && h.Component == "neighbour" && strings.HasPrefix(h.Action, near.Status.PodIP+" is ")
				},
				func(h trace.Hop) bool {
					return h.Node == cn && h.Pod == "" && h.Component == "bridge" &&
						h.Action == fmt.Sprintf("left the bridge cni0 by port %s (pod default/%s)", port, near.Name)
				},
				func(h trace.Hop) bool {
					return h.Pod == "default/"+near.Name && h.Component == "bridge" && h.Action == "arrived on the pod's eth0" && strings.Contains(h.Detail, port)
				},
				func(h trace.Hop) bool { return h.Pod == "default/"+near.Name && h.Component == "socket" },
			})
		})
		t.Run("pod to pod across nodes", func(t *testing.T) {
			j, code := l.traceJSON(t, "client", far.Name)
			if code != 0 || j.Verdict != trace.Delivered {
				t.Fatalf("exit %d, verdict %q; want 0, delivered: %+v", code, j.Verdict, j)
			}
			vip, mac := l.vtepNeigh(t, cn, fn)
			dstport := regexp.MustCompile(`dstport (\d+)`).FindStringSubmatch(ipn(t, "ip", "-n", l.nodeNS[cn], "-d", "link", "show", "vxlan.1"))
			if dstport == nil {
				t.Fatal("no dstport on vxlan.1")
			}
			outer := fmt.Sprintf("encapsulated: outer %s -> %s UDP %s VNI 1", l.nodeIP(cn), l.nodeIP(fn), dstport[1])
			port := l.hostVeth(t, far)
			inOrder(t, j.Request, []func(trace.Hop) bool{
				func(h trace.Hop) bool {
					return h.Node == cn && h.Pod == "" && h.Component == "neighbour" && h.Action == vip+" is "+mac+" on vxlan.1" &&
						strings.Contains(h.Detail, "set by kinn: the VTEP of node "+fn)
				},
				func(h trace.Hop) bool {
					return h.Node == cn && h.Component == "fdb" && h.Action == mac+" -> VTEP "+l.nodeIP(fn)+" ("+fn+")"
				},
				func(h trace.Hop) bool { return h.Node == cn && h.Component == "vxlan" && h.Action == outer },
				func(h trace.Hop) bool {
					return h.Node == fn && h.Pod == "" && h.Component == "vxlan" && h.Action == "decapsulated from "+cn+" (VNI 1) by vxlan.1"
				},
				func(h trace.Hop) bool {
					return h.Node == fn && h.Pod == "" && h.Component == "bridge" && strings.HasPrefix(h.Action, "left the bridge cni0 by port "+port+" ")
				},
				func(h trace.Hop) bool { return h.Pod == "default/"+far.Name && h.Action == "arrived on the pod's eth0" },
			})
			// The answer back the same way round.
			inOrder(t, j.Reply, []func(trace.Hop) bool{
				func(h trace.Hop) bool {
					return h.Node == fn && h.Component == "vxlan" && strings.HasPrefix(h.Action, "encapsulated: outer "+l.nodeIP(fn))
				},
				func(h trace.Hop) bool {
					return h.Node == cn && h.Component == "vxlan" && strings.HasPrefix(h.Action, "decapsulated from "+fn)
				},
			})
		})
		t.Run("FDB entry deleted by hand", func(t *testing.T) {
			_, mac := l.vtepNeigh(t, cn, fn)
			ipn(t, "bridge", "-n", l.nodeNS[cn], "fdb", "del", mac, "dev", "vxlan.1", "dst", l.nodeIP(fn), "self")
			l.droppedAt(t, far.Name, cn, "no FDB entry for "+mac+" on vxlan.1 in node "+cn+": the VXLAN device does not know which node has ")
		})
		t.Run("route deleted by hand", func(t *testing.T) {
			cidr := ""
			for _, n := range l.nodes() {
				if n.Name == fn {
					cidr = n.Spec.PodCIDR
				}
			}
			ipn(t, "ip", "-n", l.nodeNS[cn], "route", "del", cidr)
			l.droppedAt(t, far.Name, cn, "no route to "+fn+"'s pods ("+cidr+" via ")
		})
		t.Run("FDB entry deleted on the answer's way", func(t *testing.T) {
			// The SYN gets there; its SYN-ACK cannot get back, and the
			// client's retransmitted SYNs reach the answerer again: the
			// cause is the answer's missing entry, not what the kernel
			// did with a retransmission.
			_, mac := l.vtepNeigh(t, fn, cn)
			ipn(t, "bridge", "-n", l.nodeNS[fn], "fdb", "del", mac, "dev", "vxlan.1", "dst", l.nodeIP(cn), "self")
			j, code := l.traceJSON(t, "client", far.Name, "--timeout", "2s")
			if code != 3 || j.Verdict != trace.Dropped {
				t.Fatalf("exit %d, verdict %q; want 3, dropped: %+v", code, j.Verdict, j)
			}
			missing := "no FDB entry for " + mac + " on vxlan.1 in node " + fn
			inOrder(t, j.Reply, []func(trace.Hop) bool{
				func(h trace.Hop) bool { return h.Pod == "default/"+far.Name && strings.Contains(h.Action, "SYN-ACK") },
				func(h trace.Hop) bool {
					return h.Node == fn && h.Component == "drop" && strings.HasPrefix(h.Action, missing)
				},
			})
			if !strings.Contains(j.Summary, "in "+fn+": "+missing) {
				t.Errorf("summary %q does not name the answer's missing entry in %s", j.Summary, fn)
			}
			l.must("up", "--name", l.name)
		})
	})
	t.Run("host-gw", func(t *testing.T) {
		t.Parallel()
		l := newL2Lab(t, "../../examples/host-gw.yaml")
		var src corev1.Pod
		for _, p := range l.pods {
			if strings.HasPrefix(p.Name, "web-") {
				src = p
			}
		}
		_, far := l.webPods(t, src.Spec.NodeName)
		sn, fn := src.Spec.NodeName, far.Spec.NodeName
		j, code := l.traceJSON(t, src.Name, far.Name)
		if code != 0 || j.Verdict != trace.Delivered {
			t.Fatalf("exit %d, verdict %q; want 0, delivered: %+v", code, j.Verdict, j)
		}
		swPort := peerOf(t, l.nodeNS[fn], "kinn."+l.name+".switch") // the switch's port towards the far node
		inOrder(t, j.Request, []func(trace.Hop) bool{
			func(h trace.Hop) bool {
				return h.Node == sn && h.Pod == "" && h.Component == "route" && strings.Contains(h.Detail, "host-gw: "+fn+"'s pod CIDR")
			},
			func(h trace.Hop) bool {
				return h.Node == sn && h.Component == "neighbour" && strings.HasPrefix(h.Action, l.nodeIP(fn)+" is ") &&
					strings.HasSuffix(h.Detail, "set by kinn: the next-hop node "+fn)
			},
			func(h trace.Hop) bool {
				return h.Namespace == "kinn."+l.name+".switch" && h.Action == fmt.Sprintf("left the bridge br0 by port %s (node %s)", swPort, fn)
			},
			func(h trace.Hop) bool {
				return h.Node == fn && h.Pod == "" && strings.HasPrefix(h.Action, "left the bridge cni0 by port ")
			},
			func(h trace.Hop) bool { return h.Pod == "default/"+far.Name && h.Action == "arrived on the pod's eth0" },
		})
	})
}

// droppedAt traces client -> pod and wants it dropped, the drop naming
// the missing entry in node, the summary too; then kinn up puts the entry
// back and the trace is delivered again.
func (l *l2Lab) droppedAt(t *testing.T, pod, node, missing string) {
	t.Helper()
	j, code := l.traceJSON(t, "client", pod, "--timeout", "1s")
	if code != 3 || j.Verdict != trace.Dropped {
		t.Fatalf("exit %d, verdict %q; want 3, dropped: %+v", code, j.Verdict, j)
	}
	inOrder(t, j.Request, []func(trace.Hop) bool{
		func(h trace.Hop) bool {
			return h.Node == node && h.Component == "drop" && strings.HasPrefix(h.Action, missing)
		},
	})
	if !strings.Contains(j.Summary, "in "+node+": "+missing) {
		t.Errorf("summary %q does not name the missing entry in %s", j.Summary, node)
	}
	l.must("up", "--name", l.name)
	if j, code := l.traceJSON(t, "client", pod); code != 0 || j.Verdict != trace.Delivered {
		t.Errorf("after kinn up: exit %d, verdict %q", code, j.Verdict)
	}
}
