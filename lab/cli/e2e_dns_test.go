package cli_test

import (
	"crypto/sha256"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// dig asks the cluster DNS from the client pod and returns dig's short
// answer lines.
func (e *env) dig(args ...string) []string {
	e.t.Helper()
	out, errOut, code := e.run(append([]string{"exec", "--name", e.name, "client", "--", "dig", "+short", "+time=2", "+tries=2"}, args...)...)
	if code != 0 {
		e.t.Fatalf("dig %v: exit %d: %s%s", args, code, out, errOut)
	}
	return strings.Fields(out)
}

func (e *env) podIP(name string) string {
	e.t.Helper()
	for _, p := range e.pods() {
		if p.Name == name {
			return p.Status.PodIP
		}
	}
	e.t.Fatalf("no pod %s", name)
	return ""
}

func fileHash(t *testing.T, path string) [32]byte {
	b, _ := os.ReadFile(path)
	return sha256.Sum256(b)
}

// TestDNSNames: on the default lab a pod reaches a Service by its short
// name, and getent resolves every partial name through the search path;
// from another namespace only the qualified names resolve.
func TestDNSNames(t *testing.T) {
	e := newEnv(t, "dnsn")
	resolv, hosts := fileHash(t, "/etc/resolv.conf"), fileHash(t, "/etc/hosts")
	e.up("")
	ip := e.svcIP("web")
	var body string
	var code int
	for range 20 { // the DNS pods start with the lab process
		if body, code = e.curl("client", "web/hostname"); code == 0 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code != 0 || !strings.HasPrefix(body, "web-") {
		t.Fatalf("curl web/hostname from client: exit %d, %q", code, body)
	}
	for _, name := range []string{"web", "web.default", "web.default.svc", "web.default.svc.cluster.local"} {
		out, _, code := e.run("exec", "--name", e.name, "client", "--", "getent", "hosts", name)
		if code != 0 || !strings.HasPrefix(out, ip+" ") {
			t.Errorf("getent hosts %s: exit %d, %q; want %s", name, code, out, ip)
		}
	}
	e.apply("apiVersion: v1\nkind: Pod\nmetadata: {name: other, namespace: tools}\nspec: {containers: [{name: c, image: x, args: [pause]}]}\n")
	if _, _, code := e.run("exec", "--name", e.name, "-n", "tools", "other", "--", "getent", "hosts", "web"); code == 0 {
		t.Errorf("the short name web resolves from namespace tools")
	}
	if out, _, code := e.run("exec", "--name", e.name, "-n", "tools", "other", "--", "getent", "hosts", "web.default"); code != 0 || !strings.HasPrefix(out, ip+" ") {
		t.Errorf("web.default from namespace tools: exit %d, %q", code, out)
	}
	if out := e.must("exec", "--name", e.name, "-n", "tools", "other", "--", "hostname"); strings.TrimSpace(out) != "other" {
		t.Errorf("the pod's hostname is %q", out)
	}
	if out := e.must("exec", "--name", e.name, "client", "--", "curl", "-sk", "https://kubernetes.default/healthz"); out != "ok" {
		t.Errorf("kubernetes.default/healthz answered %q", out)
	}
	e.must("down", "--name", e.name)
	if fileHash(t, "/etc/resolv.conf") != resolv || fileHash(t, "/etc/hosts") != hosts {
		t.Errorf("the host's /etc/resolv.conf or /etc/hosts changed")
	}
	if b, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(b), e.name) {
		t.Errorf("a mount of the lab is left:\n%s", b)
	}
	if _, err := os.Stat(e.dirs[3] + "/" + e.name); err == nil {
		t.Errorf("the lab's runtime directory (the pods' resolv.conf and hosts) is left")
	}
}

// TestDNSRecords: dig over UDP and TCP gets what CoreDNS would answer for
// every kind of Service (examples/dns.yaml), and a headless Service's
// answer follows its pods.
func TestDNSRecords(t *testing.T) {
	e := newEnv(t, "dnsr")
	e.up("../../examples/dns.yaml")
	web, db0, db1 := e.svcIP("web"), e.podIP("db-0"), e.podIP("db-1")
	var got []string
	for range 20 {
		if got = e.dig("web.default.svc.cluster.local"); len(got) > 0 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"web.default.svc.cluster.local"}, []string{web}},
		{[]string{"+tcp", "web.default.svc.cluster.local"}, []string{web}},
		{[]string{"SRV", "_http._tcp.web.default.svc.cluster.local"}, []string{"0", "100", "80", "web.default.svc.cluster.local."}},
		{[]string{"+tcp", "SRV", "_sql._tcp.db.default.svc.cluster.local"}, []string{"0", "50", "5432", "db-0.db.default.svc.cluster.local.", "0", "50", "5432", "db-1.db.default.svc.cluster.local."}},
		{[]string{"db.default.svc.cluster.local"}, sorted(db0, db1)},
		{[]string{"db-1.db.default.svc.cluster.local"}, []string{db1}},
		{[]string{"docs.default.svc.cluster.local"}, []string{"docs.example.com."}},
		{[]string{"-x", web}, []string{"web.default.svc.cluster.local."}},
		{[]string{"-x", db0}, []string{"db-0.db.default.svc.cluster.local."}},
		{[]string{strings.ReplaceAll(db0, ".", "-") + ".default.pod.cluster.local"}, []string{db0}},
		{[]string{"nope.default.svc.cluster.local"}, nil},
	}
	for _, c := range cases {
		got := e.dig(c.args...)
		if len(c.want) == 2 && len(got) == 2 {
			got = sorted(got...)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("dig %v = %v, want %v", c.args, got, c.want)
		}
	}
	if out := e.must("exec", "--name", e.name, "client", "--", "dig", "nope.default.svc.cluster.local"); !strings.Contains(out, "status: NXDOMAIN") {
		t.Errorf("a missing name is not NXDOMAIN:\n%s", out)
	}
	if out := e.must("exec", "--name", e.name, "client", "--", "dig", "example.com"); !strings.Contains(out, "status: REFUSED") {
		t.Errorf("a name outside the cluster is not refused:\n%s", out)
	}
	// Switching the ExternalName Service to a ClusterIP one changes the answer.
	e.apply("apiVersion: v1\nkind: Service\nmetadata: {name: docs}\nspec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}\n")
	if got := e.dig("docs.default.svc.cluster.local"); len(got) != 1 || got[0] != e.svcIP("docs") {
		t.Errorf("docs after switching to ClusterIP = %v, want %s", got, e.svcIP("docs"))
	}
	// A headless Service's A answer follows its Deployment.
	e.apply("apiVersion: v1\nkind: Service\nmetadata: {name: web-pods}\nspec: {clusterIP: None, selector: {app: web}, ports: [{port: 8080}]}\n")
	e.must("scale", "deployment", "web", "--replicas", "4", "--name", e.name)
	start := time.Now()
	for len(e.dig("web-pods.default.svc.cluster.local")) != 4 {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("the headless answer did not follow the scale: %v", e.dig("web-pods.default.svc.cluster.local"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("headless answer followed the scale in %v", time.Since(start))
}

func sorted(s ...string) []string { return slices.Sorted(slices.Values(s)) }

// TestPodViewRefusesTheHost: the hidden verb that binds a pod's files over
// /etc refuses to run in the host's own namespaces.
func TestPodViewRefusesTheHost(t *testing.T) {
	e := newEnv(t, "pview")
	resolv := fileHash(t, "/etc/resolv.conf")
	host, _ := os.Hostname()
	_, errOut, code := e.run("pod-view", "--resolv", "/dev/null", "--hostname", "nope", "--", "true")
	if code == 0 || !strings.Contains(errOut, "refusing to run outside a private") {
		t.Errorf("pod-view in the host's namespaces: exit %d, %s", code, errOut)
	}
	// A program's confinement (mounts over the host's /proc, /dev, /tmp)
	// refuses the host's namespaces alike.
	_, errOut, code = e.run("pod-view", "--confine", `{"uid":65534,"gid":65534}`, "--", "true")
	if code == 0 || !strings.Contains(errOut, "refusing to run outside a private") {
		t.Errorf("pod-view --confine in the host's namespaces: exit %d, %s", code, errOut)
	}
	if h, _ := os.Hostname(); h != host || fileHash(t, "/etc/resolv.conf") != resolv {
		t.Errorf("pod-view changed the host")
	}
}
