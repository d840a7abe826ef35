package cli_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"kinn.dev/kinn/lab"
)

// proxyBreak is a lab whose web Deployment has one pod, so every request
// to the web Service goes through that one endpoint's DNAT rule in the
// client's node.
type proxyBreak struct {
	e       *env
	url     string
	netns   string // the client's node
	node    string
	epChain string // web's endpoint's chain in that node
}

func newProxyBreak(t *testing.T, e *env) *proxyBreak {
	e.must("scale", "--name", e.name, "deployment", "web", "--replicas", "1")
	b := &proxyBreak{e: e, url: "http://" + e.svcIP("web") + "/hostname"}
	var web corev1.Pod
	for _, p := range e.pods() {
		switch {
		case p.Name == "client":
			b.node = p.Spec.NodeName
		case strings.HasPrefix(p.Name, "web-"):
			web = p
		}
	}
	for _, n := range e.nodes() {
		if n.Name == b.node {
			b.netns = netnsOf(&n)
		}
	}
	b.epChain = "ep-default/web/80/tcp/" + web.Name + "-8080"
	b.waitServes(t)
	return b
}

// waitServes waits until the Service answers (readiness after the scale,
// or a repair).
func (b *proxyBreak) waitServes(t *testing.T) {
	t.Helper()
	for range 20 {
		if _, code := b.e.curl("client", b.url); code == 0 {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("web does not answer at %s", b.url)
}

// deleteDNAT deletes the endpoint's DNAT rule by hand, as an admin would:
// find its handle, delete it.
func (b *proxyBreak) deleteDNAT(t *testing.T) {
	t.Helper()
	out := ipn(t, "ip", "netns", "exec", b.netns, "nft", "-a", "list", "chain", "ip", "kinn", b.epChain)
	m := regexp.MustCompile(`dnat to .*# handle (\d+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no dnat rule in %s:\n%s", b.epChain, out)
	}
	ipn(t, "ip", "netns", "exec", b.netns, "nft", "delete", "rule", "ip", "kinn", b.epChain, "handle", m[1])
}

func (b *proxyBreak) rules(t *testing.T) lab.RulesView {
	t.Helper()
	var v lab.RulesView
	if err := json.Unmarshal([]byte(b.e.must("rules", "--name", b.e.name, b.node, "-o", "json")), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// endpointDrift is what `kinn rules` says of the endpoint's chain: the
// endpoint's drift mark on the web ClusterIP frontend, and the drift lines
// naming the chain.
func (b *proxyBreak) endpointDrift(t *testing.T) (mark string, lines []string) {
	v := b.rules(t)
	for _, f := range v.Services {
		for _, e := range f.Endpoints {
			if f.Service == "default/web" && f.Kind == "ClusterIP" && e.Chain == b.epChain {
				mark = e.Drift
			}
		}
	}
	for _, d := range v.Drift {
		if d.Name == b.epChain {
			lines = append(lines, d.State+" "+d.Summary)
		}
	}
	return mark, lines
}

func (e *env) labLog() string {
	log, _ := os.ReadFile(filepath.Join(e.dirs[3], e.name, "lab.log"))
	return string(log)
}

// TestProxyRuleRepaired: one endpoint's DNAT rule deleted by hand inside a
// node's table is put back by the lab process within seconds, which says
// so in its log, and the Service answers again.
func TestProxyRuleRepaired(t *testing.T) {
	e := newEnv(t, "nftrule")
	e.up("")
	b := newProxyBreak(t, e)
	b.deleteDNAT(t)
	want := "proxy node " + b.node + ": chain " + b.epChain + " had 1 of 2 rules; missing: meta l4proto tcp dnat to"
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(e.labLog(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("the lab process did not restore the rule within 5 s; its log:\n%s", e.labLog())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, code := e.curl("client", b.url); code != 0 {
		t.Fatalf("web fails after the repair: curl exit %d", code)
	}
	if mark, lines := b.endpointDrift(t); mark != "" || lines != nil {
		t.Fatalf("kinn rules after the repair: %q %q", mark, lines)
	}
	b.checkTable(t)
}

// checkTable: `kinn rules` explains the table's fixed machinery with live
// figures. A connection to a port the web ClusterIP does not have passes
// services, and cluster-ips-check refuses it through reject: their
// counters move; the sets and maps have their sizes.
func (b *proxyBreak) checkTable(t *testing.T) {
	t.Helper()
	objects := func(v lab.RulesView) map[string]lab.TableObjectView {
		out := map[string]lab.TableObjectView{}
		for _, o := range v.Table {
			if o.Meaning == "" {
				t.Errorf("kinn rules shows %s without a meaning", o.Name)
			}
			out[o.Name] = o
		}
		return out
	}
	pkts := func(o lab.TableObjectView) uint64 {
		if o.Packets == nil {
			t.Fatalf("kinn rules shows no counter for %s", o.Name)
		}
		return *o.Packets
	}
	before := objects(b.rules(t))
	if _, code := b.e.curl("client", "http://"+b.e.svcIP("web")+":81/"); code != 7 {
		t.Fatalf("curl to port 81 of web's ClusterIP: exit %d, want 7 (connection refused)", code)
	}
	after := objects(b.rules(t))
	for _, name := range []string{"nat-prerouting", "services", "filter-forward", "cluster-ips-check", "reject"} {
		if pkts(after[name]) <= pkts(before[name]) {
			t.Errorf("%s's counter stayed at %d after a refused connection", name, pkts(after[name]))
		}
	}
	size := func(name string) int {
		if o := after[name]; o.Elements != nil {
			return *o.Elements
		}
		if o := after[name]; o.Count != nil {
			return *o.Count
		}
		return -1
	}
	if n := size("nodeport-ips"); n != 1 {
		t.Errorf("nodeport-ips has %d elements, want the node's primary address alone", n)
	}
	for _, name := range []string{"cluster-ips", "service-ips", "svc-*", "ep-*"} {
		if size(name) < 1 {
			t.Errorf("kinn rules gives %s no size: %+v", name, after[name])
		}
	}
	text := b.e.must("rules", "--name", b.e.name, b.node)
	for _, re := range []string{`(?m)^TABLE ip kinn`, `(?m)^  nat-prerouting\s+chain\s+nat prerouting -100\s+\d+ pkts$`,
		`(?m)^  cluster-ips\s+set\s+\d+ elements?$`, `(?m)^      A plain .reject., ICMP port unreachable`, `\(kube-proxy: reject-chain\)`} {
		if !regexp.MustCompile(re).MatchString(text) {
			t.Errorf("kinn rules: no line matching %s:\n%s", re, text)
		}
	}
}

// TestDriftShownThenUpRepairs: with the lab process told to leave repairs
// to `kinn up`, a deleted DNAT rule breaks the Service and `kinn rules`
// shows it MISSING, as it shows a deleted FDB entry and route MISSING and
// a foreign route EXTRA; `kinn up` puts everything back.
func TestDriftShownThenUpRepairs(t *testing.T) {
	e := newEnv(t, "nftshow")
	up := exec.Command(kinnBin, append(append([]string{}, e.dirs...), "up", "--name", e.name)...)
	up.Env = append(os.Environ(), "KINN_PROXY_REPAIR=manual")
	if out, err := up.CombinedOutput(); err != nil {
		t.Fatalf("kinn up: %v\n%s", err, out)
	}
	b := newProxyBreak(t, e)
	if mark, lines := b.endpointDrift(t); mark != "" || lines != nil {
		t.Fatalf("kinn rules on an intact lab: %q %q", mark, lines)
	}

	b.deleteDNAT(t)
	if _, code := e.curl("client", b.url); code == 0 {
		t.Fatal("web still answers without its endpoint's DNAT rule: the break broke nothing")
	}
	mark, lines := b.endpointDrift(t)
	if mark != lab.DriftMissing || len(lines) != 1 || !strings.Contains(lines[0], "MISSING chain "+b.epChain+" had 1 of 2 rules; missing: meta l4proto tcp dnat to") {
		t.Fatalf("kinn rules shows the endpoint as %q with drift %q, want MISSING and the missing dnat rule", mark, lines)
	}
	text := e.must("rules", "--name", e.name, b.node)
	if !regexp.MustCompile(`(?m)^    => \S+\s+ready .*-> ` + regexp.QuoteMeta(b.epChain) + `.* MISSING in the kernel`).MatchString(text) {
		t.Errorf("kinn rules does not mark the endpoint MISSING:\n%s", text)
	}

	// The overlay: an FDB entry and a route deleted, a route added on
	// kinn's uplink.
	var other corev1.Node
	for _, n := range e.nodes() {
		if n.Name != b.node {
			other = n
		}
	}
	otherIP := other.Status.Addresses[0].Address
	var fdb string
	for _, l := range strings.Split(ipn(t, "bridge", "-n", b.netns, "fdb", "show", "dev", "vxlan.1"), "\n") {
		if f := strings.Fields(l); len(f) > 2 && f[2] == otherIP {
			ipn(t, "bridge", "-n", b.netns, "fdb", "del", f[0], "dev", "vxlan.1", "dst", otherIP, "self")
			fdb = f[0] + " dst " + otherIP
		}
	}
	ipn(t, "ip", "-n", b.netns, "route", "del", other.Spec.PodCIDR)
	ipn(t, "ip", "-n", b.netns, "route", "add", "192.0.2.0/24", "via", "172.18.0.1", "dev", "eth0")
	states := func() map[string]string {
		v := b.rules(t)
		out := map[string]string{}
		for _, es := range [][]lab.EntryView{v.Routes, v.FDB, v.Neigh} {
			for _, en := range es {
				if en.State != "" {
					out[strings.Join(strings.Fields(en.Entry)[:3], " ")] = en.State
				}
			}
		}
		return out
	}
	got := states()
	for entry, want := range map[string]string{fdb: lab.DriftMissing, other.Spec.PodCIDR + " via " + other.Spec.PodCIDR[:strings.Index(other.Spec.PodCIDR, "/")]: lab.DriftMissing,
		"192.0.2.0/24 via 172.18.0.1": lab.DriftExtra} {
		if got[entry] != want {
			t.Errorf("kinn rules says %q of %q, want %s (all: %v)", got[entry], entry, want, got)
		}
	}
	if len(got) != 3 {
		t.Errorf("kinn rules marks %v, want only the three changes", got)
	}

	// The lab process was told not to repair: still broken a while later.
	time.Sleep(2 * time.Second)
	if mark, _ := b.endpointDrift(t); mark != lab.DriftMissing {
		t.Fatalf("with KINN_PROXY_REPAIR=manual the rule came back without kinn up (%q)", mark)
	}

	_, upErr, code := e.run("up", "--name", e.name)
	if code != 0 {
		t.Fatalf("kinn up: exit %d\n%s", code, upErr)
	}
	// up itself says what it put back in the proxy's table.
	if !strings.Contains(upErr, "proxy node "+b.node+": chain "+b.epChain+" had 1 of 2 rules") {
		t.Errorf("kinn up does not say what it restored in the proxy's table:\n%s", upErr)
	}
	b.waitServes(t)
	if mark, lines := b.endpointDrift(t); mark != "" || lines != nil {
		t.Fatalf("kinn rules after kinn up: %q %q", mark, lines)
	}
	if got := states(); len(got) != 0 {
		t.Fatalf("kinn rules after kinn up still marks %v", got)
	}
	if !strings.Contains(e.labLog(), "proxy node "+b.node+": chain "+b.epChain+" had 1 of 2 rules") {
		t.Errorf("the lab log does not say what kinn up restored:\n%s", e.labLog())
	}
}
