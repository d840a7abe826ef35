package cli_test

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// loadBalancerLab: two backends on the two workers (none on the control
// plane), and LoadBalancer Services with each traffic policy, with source
// ranges, with a requested address and with another controller's class.
const loadBalancerLab = `kind: Cluster
apiVersion: kinn.dev/v1alpha1
nodes: [{role: control-plane}, {role: worker}, {role: worker}]
---
apiVersion: v1
kind: Pod
metadata: {name: web1, labels: {app: web}}
spec: {nodeName: kinn-worker, containers: [{name: w, image: x, args: [netexec, --http-port=8080], ports: [{containerPort: 8080}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: web2, labels: {app: web}}
spec: {nodeName: kinn-worker2, containers: [{name: w, image: x, args: [netexec, --http-port=8080], ports: [{containerPort: 8080}]}]}
---
apiVersion: v1
kind: Service
metadata: {name: lb-cluster}
spec: {type: LoadBalancer, selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: lb-local}
spec: {type: LoadBalancer, externalTrafficPolicy: Local, selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: lb-closed}
spec: {type: LoadBalancer, loadBalancerIP: 172.18.255.240, loadBalancerSourceRanges: [203.0.113.0/24], selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: lb-open}
spec: {type: LoadBalancer, loadBalancerSourceRanges: [203.0.113.0/24, 172.18.0.0/16], selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: lb-other}
spec: {type: LoadBalancer, loadBalancerClass: example.com/lb, selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
`

// lbAddr is a Service's status.loadBalancer.ingress address, "" if none.
func (e *env) lbAddr(name string) string {
	e.t.Helper()
	var s corev1.Service
	if err := json.Unmarshal([]byte(e.must("get", "svc", name, "-o", "json", "--name", e.name)), &s); err != nil {
		e.t.Fatal(err)
	}
	if in := s.Status.LoadBalancer.Ingress; len(in) == 1 && in[0].IPMode != nil && *in[0].IPMode == corev1.LoadBalancerIPModeVIP {
		return in[0].IP
	}
	return ""
}

// outside asks url from the switch namespace n times and returns the
// answers, "" for each failure.
func (e *env) outside(url string, n int) []string {
	var out []string
	for range n {
		body, _, code := e.run("exec", "--name", e.name, "--external", "--", "curl", "-sS", "-m", "2", url)
		if code != 0 {
			body = ""
		}
		out = append(out, strings.TrimSpace(body))
	}
	return out
}

// TestLoadBalancerService: kinn's load-balancer controller gives
// LoadBalancer Services addresses of the pool (the requested one when
// asked, none for another controller's class), `kinn get svc` shows them,
// and each answers from outside through the switch: externalTrafficPolicy
// Cluster from both backends with the client masqueraded to a node
// address, Local with the client's own address kept (the switch routes
// only to the workers), loadBalancerSourceRanges dropping a client outside
// them; `kinn check` covers every address.
func TestLoadBalancerService(t *testing.T) {
	e := newEnv(t, "lbsvc")
	f := filepath.Join(t.TempDir(), "lb.yaml")
	os.WriteFile(f, []byte(loadBalancerLab), 0o644)
	e.up(f)
	e.checkPasses()

	want := map[string]string{"lb-cluster": "172.18.255.200", "lb-local": "172.18.255.201", "lb-closed": "172.18.255.240", "lb-open": "172.18.255.202", "lb-other": ""}
	for svc, addr := range want {
		if got := e.lbAddr(svc); got != addr {
			t.Errorf("%s: status.loadBalancer.ingress %q (ipMode VIP), want %q", svc, got, addr)
		}
	}
	table := e.must("get", "svc", "--name", e.name)
	for _, line := range []string{"lb-cluster   LoadBalancer", "172.18.255.200   80:", "<pending>"} {
		if !strings.Contains(table, line) {
			t.Errorf("kinn get svc lacks %q:\n%s", line, table)
		}
	}

	nodeIPs := map[string]bool{}
	for _, n := range e.nodes() {
		nodeIPs[n.Status.Addresses[0].Address] = true
	}
	const outsideIP = "172.18.0.1"
	t.Run("externalTrafficPolicy Cluster", func(t *testing.T) {
		hosts := e.outside("http://172.18.255.200/hostname", 12)
		if slices.Contains(hosts, "") || !slices.Contains(hosts, "web1") || !slices.Contains(hosts, "web2") {
			t.Errorf("answers %q; want every request answered, by both web1 and web2", hosts)
		}
		// Masqueraded to the address of the link the node sends it out
		// of: its bridge's or overlay's, for an endpoint on it or beyond.
		for _, c := range e.outside("http://172.18.255.200/clientip", 6) {
			if ap, err := netip.ParseAddrPort(c); err != nil || !nodeIPs[ap.Addr().String()] && !defaultPodSubnet.Contains(ap.Addr()) {
				t.Errorf("/clientip %q: want an address of a node (masqueraded), not the outside client's %s", c, outsideIP)
			}
		}
	})
	t.Run("externalTrafficPolicy Local", func(t *testing.T) {
		for _, c := range e.outside("http://172.18.255.201/clientip", 8) {
			if ap, err := netip.ParseAddrPort(c); err != nil || ap.Addr().String() != outsideIP {
				t.Errorf("/clientip %q: want the outside client's own %s", c, outsideIP)
			}
		}
		routes := e.must("exec", "--name", e.name, "--external", "--", "ip", "route", "show", "172.18.255.201")
		if strings.Count(routes, "nexthop via") != 2 || strings.Contains(routes, "172.18.0.2 ") {
			t.Errorf("switch route to the Local address:\n%s\nwant the two workers only (the control plane has no endpoint)", routes)
		}
	})
	t.Run("loadBalancerSourceRanges", func(t *testing.T) {
		if got := e.outside("http://172.18.255.240/hostname", 2); slices.ContainsFunc(got, func(s string) bool { return s != "" }) {
			t.Errorf("a client outside the source ranges got %q; want dropped", got)
		}
		if got := e.outside("http://172.18.255.202/hostname", 2); slices.Contains(got, "") {
			t.Errorf("a client inside the source ranges got %q; want answers", got)
		}
		out := e.must("check", "--name", e.name, "-o", "wide")
		cell := func(to, expect string) bool {
			return slices.ContainsFunc(strings.Split(out, "\n"), func(l string) bool {
				f := strings.Fields(l)
				return len(f) > 7 && f[1] == "external" && strings.Join(f[2:5], " ") == to && f[7] == expect
			})
		}
		if !cell("default/lb-closed loadBalancer 172.18.255.240", "dropped") || !cell("default/lb-cluster loadBalancer 172.18.255.200", "pass") {
			t.Errorf("kinn check does not probe the load-balancer addresses:\n%s", out)
		}
	})
}

// TestLoadBalancerIPModeProxy: with loadBalancer.ipMode Proxy the
// Services' ingress says so, the nodes' proxies leave the address alone
// (kube-proxy captures VIPs only) and the switch, as a proxying load
// balancer, forwards it to the node port itself and enforces the source
// ranges there.
func TestLoadBalancerIPModeProxy(t *testing.T) {
	e := newEnv(t, "lbproxy")
	f := filepath.Join(t.TempDir(), "lb.yaml")
	doc := strings.Replace(loadBalancerLab, "nodes: [", "loadBalancer: {ipMode: Proxy}\nnodes: [", 1)
	os.WriteFile(f, []byte(doc), 0o644)
	e.up(f)
	e.checkPasses()

	var s corev1.Service
	json.Unmarshal([]byte(e.must("get", "svc", "lb-cluster", "-o", "json", "--name", e.name)), &s)
	if in := s.Status.LoadBalancer.Ingress; len(in) != 1 || in[0].IP != "172.18.255.200" || in[0].IPMode == nil || *in[0].IPMode != corev1.LoadBalancerIPModeProxy {
		t.Fatalf("ingress %+v, want 172.18.255.200 with ipMode Proxy", s.Status.LoadBalancer.Ingress)
	}
	hosts := e.outside("http://172.18.255.200/hostname", 12)
	if slices.Contains(hosts, "") || !slices.Contains(hosts, "web1") || !slices.Contains(hosts, "web2") {
		t.Errorf("answers %q; want every request answered, by both backends", hosts)
	}
	if got := e.outside("http://172.18.255.240/hostname", 2); slices.ContainsFunc(got, func(s string) bool { return s != "" }) {
		t.Errorf("a client outside the source ranges got %q; want dropped by the load balancer", got)
	}
	if routes := e.must("exec", "--name", e.name, "--external", "--", "ip", "route", "show", "proto", "75"); routes != "" {
		t.Errorf("switch routes load-balancer addresses in Proxy mode:\n%s", routes)
	}
	if out := e.must("check", "--name", e.name, "-o", "wide"); !strings.Contains(out, "lb-cluster loadBalancer 172.18.255.200") {
		t.Errorf("kinn check does not probe the Proxy-mode address:\n%s", out)
	}
	// The switch's table deleted by hand comes back with `kinn up`.
	e.must("exec", "--name", e.name, "--external", "--", "nft", "delete", "table", "ip", "kinn")
	if got := e.outside("http://172.18.255.200/hostname", 1); got[0] != "" {
		t.Fatalf("the address still answers without the switch's table: %q", got)
	}
	e.up("")
	if got := e.outside("http://172.18.255.200/hostname", 2); slices.Contains(got, "") {
		t.Errorf("after kinn up the address answers %q; want the switch's table back", got)
	}
	for _, n := range e.nodes() {
		table := e.must("rules", "--name", e.name, n.Name, "-o", "nft")
		if strings.Contains(table, "172.18.255.200") {
			t.Errorf("node %s's proxy captures the Proxy-mode address:\n%s", n.Name, table)
		}
	}
}

// TestLoadBalancerAllocationErrors: an address the controller cannot give
// is the file's fault, found before anything exists: exit 2, the Service
// and the address named, no state left.
func TestLoadBalancerAllocationErrors(t *testing.T) {
	e := newEnv(t, "lberr")
	f := filepath.Join(t.TempDir(), "lab.yaml")
	svc := func(name, ip string) string {
		return "---\napiVersion: v1\nkind: Service\nmetadata: {name: " + name + "}\nspec: {type: LoadBalancer, loadBalancerIP: " + ip + ", ports: [{port: 80}]}\n"
	}
	for _, tc := range []struct{ doc, want string }{
		{svc("a", "10.9.9.9"), "Service default/a: spec.loadBalancerIP 10.9.9.9 is outside the load-balancer pool 172.18.255.200-172.18.255.250"},
		{svc("a", "172.18.255.220") + svc("b", "172.18.255.220"), "Service default/b: spec.loadBalancerIP 172.18.255.220 is already Service default/a's"},
	} {
		os.WriteFile(f, []byte(tc.doc), 0o644)
		_, errOut, code := e.run("up", "--name", e.name, "-f", f)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("exit %d, want 2 and %q in:\n%s", code, tc.want, errOut)
		}
		if _, err := os.Stat(filepath.Join(e.dirs[1], e.name)); err == nil {
			t.Errorf("the lab's state was created")
		}
	}
}

// TestLoadBalancerPoolUsedUp: a Service the pool has no address left for
// stays <pending>, and `kinn up` says why.
func TestLoadBalancerPoolUsedUp(t *testing.T) {
	e := newEnv(t, "lbpend")
	f := filepath.Join(t.TempDir(), "lab.yaml")
	svc := func(name string) string {
		return "---\napiVersion: v1\nkind: Service\nmetadata: {name: " + name + "}\nspec: {type: LoadBalancer, ports: [{port: 80}]}\n"
	}
	os.WriteFile(f, []byte("kind: Cluster\napiVersion: kinn.dev/v1alpha1\nloadBalancer: {addresses: [172.18.200.9/32]}\n"+svc("a")+svc("b")), 0o644)
	_, errOut, code := e.run("up", "--name", e.name, "-f", f)
	if want := "warning: Service default/b stays <pending>: the load-balancer pool 172.18.200.9 is used up"; code != 0 || !strings.Contains(errOut, want) {
		t.Errorf("exit %d, want 0 and %q in:\n%s", code, want, errOut)
	}
	if a, b := e.lbAddr("a"), e.lbAddr("b"); a != "172.18.200.9" || b != "" {
		t.Errorf("addresses a=%q b=%q, want 172.18.200.9 and none", a, b)
	}
}
