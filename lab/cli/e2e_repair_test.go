package cli_test

import (
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"kinn.dev/kinn/lab"
	"kinn.dev/kinn/lab/kernel/kerneltest"
	"kinn.dev/kinn/lab/plan"
)

// ipn runs iproute2 inside one of the test lab's namespaces (a test may
// break the lab by hand as a user would; kinn itself never runs ip).
func ipn(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func netnsOf(o interface{ GetAnnotations() map[string]string }) string {
	return o.GetAnnotations()["kinn.dev/netns"]
}

// twoPodsApart returns two pods on different nodes.
func twoPodsApart(t *testing.T, pods []corev1.Pod) (corev1.Pod, corev1.Pod) {
	for _, a := range pods {
		for _, b := range pods {
			if a.Spec.NodeName != b.Spec.NodeName {
				return a, b
			}
		}
	}
	t.Fatal("no two pods on different nodes")
	return corev1.Pod{}, corev1.Pod{}
}

// TestDriftRepair breaks the lab by hand the ways a curious learner would —
// a pod's veth, an FDB entry, a route, a whole pod namespace — checks that
// the break is real, and that `kinn up` repairs it.
func TestDriftRepair(t *testing.T) {
	e := newEnv(t, "drift")
	e.up("")
	a, b := twoPodsApart(t, e.pods())
	nodeNS := map[string]string{}
	nodeIP := map[string]string{}
	for _, n := range e.nodes() {
		nodeNS[n.Name], nodeIP[n.Name] = netnsOf(&n), n.Status.Addresses[0].Address
	}
	breaks := []struct {
		name   string
		break_ func()
		says   string // in up's report of what it repaired
	}{
		{"pod veth deleted", func() {
			veth := plan.HostVeth(plan.ContainerID(e.name, a.Namespace, a.Name))
			ipn(t, "ip", "-n", nodeNS[a.Spec.NodeName], "link", "del", veth)
		}, "pod " + a.Namespace + "/" + a.Name + " on " + a.Spec.NodeName + ": eth0 missing: attached again"},
		{"fdb entry deleted", func() {
			for _, l := range strings.Split(ipn(t, "bridge", "-n", nodeNS[a.Spec.NodeName], "fdb", "show", "dev", "vxlan.1"), "\n") {
				if f := strings.Fields(l); len(f) > 2 && f[2] == nodeIP[b.Spec.NodeName] {
					ipn(t, "bridge", "-n", nodeNS[a.Spec.NodeName], "fdb", "del", f[0], "dev", "vxlan.1", "dst", f[2], "self")
				}
			}
		}, " on vxlan.1 (" + b.Spec.NodeName + "'s underlay address) was missing: restored"},
		{"route deleted", func() {
			for _, n := range e.nodes() {
				if n.Name == b.Spec.NodeName {
					ipn(t, "ip", "-n", nodeNS[a.Spec.NodeName], "route", "del", n.Spec.PodCIDR)
				}
			}
		}, "(to " + b.Spec.NodeName + "'s pods) was missing: restored"},
		{"switch port taken off the bridge", func() {
			ipn(t, "ip", "-n", plan.SwitchNetns(e.name), "link", "set", plan.PortName(b.Spec.NodeName), "nomaster")
		}, "switch: port " + plan.PortName(b.Spec.NodeName) + " of node " + b.Spec.NodeName + " was off br0: put back"},
		{"pod namespace deleted", func() { ipn(t, "ip", "netns", "del", netnsOf(&a)) },
			"pod " + a.Namespace + "/" + a.Name + " on " + a.Spec.NodeName + ": namespace missing: attached again"},
		{"node namespace deleted", func() { ipn(t, "ip", "netns", "del", nodeNS[b.Spec.NodeName]) },
			b.Spec.NodeName + ": namespace was missing: created again"},
	}
	for _, br := range breaks {
		if !e.ping(a, b.Status.PodIP) {
			t.Fatalf("%s: lab broken before the break", br.name)
		}
		br.break_()
		// The kernel destroys a deleted namespace asynchronously: give the
		// break a moment to take effect before calling it ineffective.
		broken := false
		for i := 0; i < 10 && !broken; i++ {
			broken = !e.ping(a, b.Status.PodIP)
		}
		// A deleted node namespace lives on while the lab process holds
		// it (its nftables connection): traffic may carry on, but the
		// name is gone until up recreates it.
		if !broken && br.name != "node namespace deleted" {
			t.Fatalf("%s: ping still works, the break did not break anything", br.name)
		}
		out := e.must("up", "--name", e.name)
		if !strings.Contains(out, br.says) {
			t.Errorf("%s: up's report does not say %q:\n%s", br.name, br.says, out)
		}
		if !e.ping(a, b.Status.PodIP) {
			t.Fatalf("%s: kinn up did not repair the lab", br.name)
		}
	}
	if failed := e.pingAll(); len(failed) != 0 {
		t.Errorf("after the repairs, %d pings fail: %v", len(failed), failed)
	}
	// Services too: the lab process moved its servers and proxy rules to
	// the recreated namespaces.
	e.checkPasses()
}

// bigTopology writes a lab of 4 nodes and n pods to a temporary file.
func bigTopology(t *testing.T, n int) string { return topologyFile(t, 4, n) }

// killedUp starts `kinn up` and SIGKILLs it after a random delay.
func (e *env) killedUp(file string, max time.Duration) {
	e.t.Helper()
	cmd := exec.Command(kinnBin, append(append([]string{}, e.dirs...), "up", "--name", e.name, "-f", file)...)
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	time.Sleep(time.Duration(rand.Int64N(int64(max))))
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	locks, _ := os.ReadFile("/proc/locks")
	e.t.Logf("killed pid %d; locks:\n%s", cmd.Process.Pid, locks)
}

// TestKilledUp: `kinn up` killed at a random moment, then `kinn down`,
// leaves nothing; and `kinn up` after a kill converges to a working lab.
func TestKilledUp(t *testing.T) {
	kerneltest.RequireRoot(t)
	before := kerneltest.HostSnapshot(t)
	e := newEnv(t, "kill")
	f := bigTopology(t, 120)
	for range 4 {
		e.killedUp(f, 400*time.Millisecond)
		e.must("down", "--name", e.name)
		e.assertGone()
	}
	for range 3 {
		e.killedUp(f, 400*time.Millisecond)
	}
	e.up(f)
	pods := e.userPods()
	if len(pods) != 120 {
		t.Fatalf("%d pods, want 120", len(pods))
	}
	// The lab must work: each pair gets a few seconds, since on a loaded
	// machine the last repairs (and the lab process's first sync) may still
	// be landing when up returns; a pair that never answers is a failure.
	for range 20 {
		p, q := pods[rand.IntN(len(pods))], pods[rand.IntN(len(pods))]
		ok := false
		for try := 0; try < 3 && !ok; try++ {
			if ok = e.ping(p, q.Status.PodIP); !ok {
				t.Logf("try %d: %s cannot reach %s (%s) yet", try+1, p.Name, q.Name, q.Status.PodIP)
			}
		}
		if !ok {
			t.Errorf("after kills and up, %s (%s on %s) cannot reach %s (%s on %s)",
				p.Name, p.Status.PodIP, p.Spec.NodeName, q.Name, q.Status.PodIP, q.Spec.NodeName)
			e.explainUnreachable(p, q)
		}
	}
	e.must("down", "--name", e.name)
	e.assertGone()
	if d := kerneltest.DiffLines(before, kerneltest.HostSnapshot(t)); d != "" {
		t.Errorf("host changed:\n%s", d)
	}
}

// explainUnreachable logs what the path from pod p to pod q goes through:
// the pod's neighbours, both nodes' links, routes, neighbours, FDB and
// conntrack entries, the switch's ports and FDB, and the underlay between
// the nodes. (It found switch ports fallen off the bridge after kills.)
func (e *env) explainUnreachable(p, q corev1.Pod) {
	t := e.t
	neigh, _, _ := e.run("exec", "--name", e.name, p.Name, "--", "ip", "neigh")
	t.Logf("%s's neighbours:\n%s", p.Name, neigh)
	for _, node := range []string{p.Spec.NodeName, q.Spec.NodeName} {
		for _, c := range [][]string{{"ip", "-br", "link"}, {"ip", "-d", "-s", "link", "show", "vxlan.1"}, {"ip", "route"}, {"ip", "neigh"}, {"bridge", "fdb", "show", "dev", "vxlan.1"}} {
			o, eo, _ := e.run(append([]string{"exec", "--name", e.name, "node/" + node, "--"}, c...)...)
			t.Logf("%s: %v:\n%s%s", node, c, o, eo)
		}
	}
	for _, c := range [][]string{{"bridge", "link", "show"}, {"bridge", "fdb", "show", "br", "br0"}} {
		o, _, _ := e.run(append([]string{"exec", "--name", e.name, "--external", "--"}, c...)...)
		t.Logf("switch %v:\n%s", c, o)
	}
	for _, ends := range [][2]corev1.Pod{{p, q}, {q, p}} {
		from, to := ends[0].Spec.NodeName, ends[1].Status.HostIP
		o, eo, _ := e.run("exec", "--name", e.name, "node/"+from, "--", "ping", "-c", "1", "-W", "1", to)
		t.Logf("%s pings %s on the underlay: %s%s", from, to, o, eo)
	}
	if st, err := lab.Load(lab.Options{StateRoot: e.dirs[1], RuntimeRoot: e.dirs[3]}, e.name); err == nil {
		ct := lab.NewConnTracker()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		conns, errs := st.Connections(ctx, ct)
		cancel()
		ct.Close()
		for _, c := range conns {
			t.Logf("conntrack %s: %s %s -> %s (%s) %s", c.Node, c.Proto, c.Client, c.Dest, c.Endpoint, c.State)
		}
		t.Logf("conntrack errors: %v", errs)
	}
}

// TestTwoLabsSideBySide: two labs with the same CIDRs run at once, and the
// down of one leaves the other working.
func TestTwoLabsSideBySide(t *testing.T) {
	a, b := newEnv(t, "twin"), newEnv(t, "twin")
	a.up("")
	b.up("")
	if failed := b.pingAll(); len(failed) != 0 {
		t.Fatalf("second lab: %v", failed)
	}
	a.must("down", "--name", a.name)
	a.assertGone()
	if failed := b.pingAll(); len(failed) != 0 {
		t.Fatalf("second lab after the first went down: %v", failed)
	}
}

// TestUnprivileged: without root, up says which privilege is missing,
// exits 1 and creates nothing.
func TestUnprivileged(t *testing.T) {
	e := newEnv(t, "noroot")
	cmd := exec.Command(kinnBin, append(append([]string{}, e.dirs...), "up", "--name", e.name)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 {
		t.Fatalf("want exit 1, got %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "CAP_SYS_ADMIN") || strings.Count(strings.TrimSpace(string(out)), "\n") != 0 {
		t.Errorf("want one line naming the missing capability, got:\n%s", out)
	}
	e.assertGone()
}

// TestConvergeRemoves: bringing a lab up again with fewer nodes and pods
// removes the ones no longer in the file, keeps the addresses of those that
// stay, and the lab still works.
func TestConvergeRemoves(t *testing.T) {
	e := newEnv(t, "shrink")
	dir := t.TempDir()
	big, small := filepath.Join(dir, "big.yaml"), filepath.Join(dir, "small.yaml")
	os.WriteFile(big, []byte(kerneltest.Topology("", 4, 12)), 0o644)
	os.WriteFile(small, []byte(kerneltest.Topology("", 3, 5)), 0o644)
	e.up(big)
	before := map[string]corev1.Pod{}
	for _, p := range e.pods() {
		before[p.Name] = p
	}
	e.must("up", "--name", e.name, "-f", small, "--yes") // it removes pods and nodes
	pods := e.userPods()
	if len(pods) != 5 || len(e.nodes()) != 3 {
		t.Fatalf("after shrinking: %d pods, %d nodes; want 5 and 3", len(pods), len(e.nodes()))
	}
	prefix := "kinn." + e.name + "."
	if got := len(kerneltest.Namespaces(prefix)); got != 1+3+5+2 {
		t.Errorf("%d namespaces, want switch + 3 nodes + 5 pods + 2 DNS pods: %v", got, kerneltest.Namespaces(prefix))
	}
	for _, p := range pods {
		// Pods on the removed node move; the others keep node and address.
		if old, ok := before[p.Name]; ok && old.Spec.NodeName != "kinn-worker3" && old.Status.PodIP != p.Status.PodIP {
			t.Errorf("pod %s moved from %s to %s", p.Name, old.Status.PodIP, p.Status.PodIP)
		}
	}
	if failed := e.pingAll(); len(failed) != 0 {
		t.Errorf("after shrinking, %d pings fail: %v", len(failed), failed)
	}
}

// TestPodMovesNode: a pod whose nodeName changes is DELeted on its old
// node and comes up fresh on the new one (never two nodes at once on one
// container), and it works there.
func TestPodMovesNode(t *testing.T) {
	e := newEnv(t, "move")
	f := filepath.Join(t.TempDir(), "lab.yaml")
	doc := "kind: Cluster\napiVersion: kinn.dev/v1alpha1\nnodes: [{role: control-plane}, {role: worker}, {role: worker}]\n" +
		"---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {nodeName: kinn-worker, containers: [{name: c, image: x}]}\n" +
		"---\napiVersion: v1\nkind: Pod\nmetadata: {name: q}\nspec: {nodeName: kinn-worker, containers: [{name: c, image: x}]}\n"
	os.WriteFile(f, []byte(doc), 0o644)
	e.up(f)
	os.WriteFile(f, []byte(strings.Replace(doc, "{name: p}\nspec: {nodeName: kinn-worker,", "{name: p}\nspec: {nodeName: kinn-worker2,", 1)), 0o644)
	e.must("up", "--name", e.name, "-f", f, "--yes") // p is recreated on its new node
	var p, q corev1.Pod
	for _, pod := range e.pods() {
		switch pod.Name {
		case "p":
			p = pod
		case "q":
			q = pod
		}
	}
	if p.Spec.NodeName != "kinn-worker2" || !strings.HasPrefix(p.Status.PodIP, "10.244.2.") {
		t.Fatalf("p is on %s with %s, want kinn-worker2 and its CIDR", p.Spec.NodeName, p.Status.PodIP)
	}
	log := e.must("cni", "log", "p", "--name", e.name)
	if !regexp.MustCompile(`DEL +default/p +kinn-worker `).MatchString(log) {
		t.Errorf("no DEL of p on its old node:\n%s", log)
	}
	if !e.ping(q, p.Status.PodIP) {
		t.Errorf("q cannot reach p on its new node")
	}
}
