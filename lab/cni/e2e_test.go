package cni_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	current "github.com/containernetworking/cni/pkg/types/100"

	"kinn.dev/kinn/lab"
	"kinn.dev/kinn/lab/cni"
	"kinn.dev/kinn/lab/kernel"
	"kinn.dev/kinn/lab/kernel/kerneltest"
	"kinn.dev/kinn/lab/plan"
	"kinn.dev/kinn/topology"
)

// TestInProcessMatchesBinary attaches one pod through libcni with kinn's
// in-process plugin and another through the kinn binary run as a plugin,
// on the same node, and checks both get the same result and really work.
func TestInProcessMatchesBinary(t *testing.T) {
	l := kerneltest.NewLab(t, "cni")
	bin := filepath.Join(l.StateDir, "kinn")
	if out, err := exec.Command("go", "build", "-o", bin, "kinn.dev/kinn").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	name := l.Name
	res := upOneNode(t, l, "")
	node := res.Plan.Nodes[0]
	pod := func(n string, ip string) plan.Pod {
		p := plan.Pod{Namespace: "default", Name: n, Node: node.Name, NodeNetns: node.Netns,
			Netns: plan.PodNetns(name, "default", n), ContainerID: plan.ContainerID(name, "default", n), Gateway: node.Gateway.Addr(), MTU: node.PodMTU}
		p.IP = netipPrefix(t, ip)
		p.Want = p.IP
		if _, err := kernel.CreateNetns(p.Netns); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a, b := pod("inproc", "10.244.0.10/24"), pod("binary", "10.244.0.11/24")

	rt := &cni.Runtime{Dir: t.TempDir()}
	resA, err := rt.Add(context.Background(), node, a)
	if err != nil {
		t.Fatal(err)
	}
	// The same configuration, through libcni, with the binary (as
	// kinn-cni in a binDir, the way any runtime would run it) and all
	// that libcni does around it: CHECK and DEL with the cached result too.
	binDir := filepath.Dir(bin)
	if err := os.Symlink(bin, filepath.Join(binDir, "kinn-cni")); err != nil {
		t.Fatal(err)
	}
	conf := strings.Replace(string(cni.ConfList(node)), `"type":"kinn"`, `"type":"kinn-cni"`, 1)
	chain, err := cni.LoadChain(&topology.CNIConfig{ConfList: conf, BinDir: binDir})
	if err != nil {
		t.Fatal(err)
	}
	rtB := &cni.Runtime{Dir: t.TempDir(), Chain: chain}
	resB, err := rtB.Add(context.Background(), node, b)
	if err != nil {
		t.Fatalf("binary ADD: %v", err)
	}
	if err := rtB.Check(context.Background(), node, b); err != nil {
		t.Errorf("binary CHECK: %v", err)
	}
	if err := rt.Check(context.Background(), node, a); err != nil {
		t.Errorf("in-process CHECK: %v", err)
	}
	norm := func(r any, p plan.Pod) string {
		var buf bytes.Buffer
		json.NewEncoder(&buf).Encode(r)
		s := buf.String()
		for _, x := range []string{p.IP.Addr().String(), p.Netns, plan.HostVeth(p.ContainerID), plan.PodMAC(p.IP.Addr())} {
			s = strings.ReplaceAll(s, x, "X")
		}
		return s
	}
	ra, _ := current.GetResult(resA)
	rb, _ := current.GetResult(resB)
	for _, r := range []*current.Result{ra, rb} {
		r.Interfaces[1].Mac = "" // the host veth's MAC is random
	}
	if na, nb := norm(ra, a), norm(rb, b); na != nb {
		t.Errorf("in-process and binary results differ:\n%s\n%s", na, nb)
	}
	out, err := exec.Command("ip", "netns", "exec", a.Netns, "ping", "-c1", "-W2", b.IP.Addr().String()).CombinedOutput()
	if err != nil {
		t.Errorf("pod attached in-process cannot reach the one attached by the binary: %v\n%s", err, out)
	}
	if err := rtB.Del(context.Background(), node, b); err != nil {
		t.Errorf("binary DEL: %v", err)
	}
	if err := rtB.Check(context.Background(), node, b); err == nil {
		t.Errorf("CHECK after DEL passed: nothing cached should be left to check")
	}
}

// TestGCRemovesStrayVeths: GC through libcni leaves the valid pods alone and
// removes a pod veth on the bridge that no attachment accounts for.
func TestGCRemovesStrayVeths(t *testing.T) {
	l := kerneltest.NewLab(t, "cnigc")
	name := l.Name
	res := upOneNode(t, l, "---\napiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, image: x}]}\n")
	node := res.Plan.Nodes[0]
	stray := plan.PodNetns(name, "default", "stray")
	if _, err := kernel.CreateNetns(stray); err != nil {
		t.Fatal(err)
	}
	strayVeth := plan.HostVeth("stray")
	if _, err := kernel.AttachPod(kernel.Attach{HostNetns: node.Netns, PodNetns: kernel.NetnsPath(stray), IfName: "eth0",
		HostVeth: strayVeth, Bridge: plan.PodBridge, IP: netipPrefix(t, "10.244.0.200/24"), Gateway: node.Gateway.Addr(), MTU: node.PodMTU}); err != nil {
		t.Fatal(err)
	}
	var mine []plan.Pod
	for _, p := range res.Plan.Pods {
		if p.Node == node.Name {
			mine = append(mine, p)
		}
	}
	rt := &cni.Runtime{Dir: t.TempDir()}
	if err := rt.GC(context.Background(), node, mine); err != nil {
		t.Fatal(err)
	}
	links := string(must(exec.Command("ip", "-n", node.Netns, "-o", "link").CombinedOutput()))
	if strings.Contains(links, strayVeth) {
		t.Errorf("GC left the stray veth %s", strayVeth)
	}
	for _, p := range mine {
		if !strings.Contains(links, p.HostVeth) {
			t.Errorf("GC removed valid pod %s's veth %s", p.Key(), p.HostVeth)
		}
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// upOneNode brings up a one-node lab with the given objects, taken down
// when the test ends.
func upOneNode(t *testing.T, l *kerneltest.Lab, objects string) *lab.Result {
	t.Helper()
	name := l.Name
	doc := "kind: Cluster\napiVersion: kinn.dev/v1alpha1\nname: " + name + "\nnodes: [{role: control-plane}]\n" + objects
	tl, _, err := topology.Parse("t.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	o := lab.Options{StateRoot: l.StateDir, RuntimeRoot: l.RunDir}
	t.Cleanup(func() { lab.Down(context.Background(), o, name) })
	res, err := lab.Up(context.Background(), o, lab.Source{Lab: tl, Raw: []byte(doc), Path: "t.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	return res
}
