package cli_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"kinn.dev/kinn/lab/trace"
)

// kinn trace to DNS names and of live connections, end to end on the
// default lab: a name is resolved by real queries from the source pod
// (and --dns traces the query itself), and --live follows a program's own
// connection, not a probe, giving its packets their DSCP back where they
// end.

func TestTraceDNSAndLive(t *testing.T) {
	e := newEnv(t, "tdl")
	e.up("")
	svc := e.svcIP("web")
	webService := func(h trace.Hop) bool {
		return h.Component == "nftables" && h.Owner != nil && *h.Owner == trace.Owner{Kind: "Service", Namespace: "default", Name: "web"}
	}
	dnat := func(h trace.Hop) bool {
		return h.Component == "nftables" && strings.HasPrefix(h.Action, "DNAT to ") && h.Owner != nil && h.Owner.Kind == "Pod"
	}
	for range 20 { // the DNS pods start with the lab process
		if _, _, code := e.run("trace", "--name", e.name, "client", "web"); code == 0 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}

	t.Run("a short name, as the pod's search list finds it", func(t *testing.T) {
		j, code := e.traceJSON(t, "client", "web")
		if code != 0 || j.Verdict != trace.Delivered || !strings.Contains(j.Summary, svc+":80") {
			t.Fatalf("exit %d, verdict %q, summary %q; want 0, delivered to %s:80", code, j.Verdict, j.Summary, svc)
		}
		inOrder(t, j.Request, []func(trace.Hop) bool{webService, dnat, func(h trace.Hop) bool { return h.Component == "socket" }})
		if j.DNS != nil {
			t.Errorf("a DNS journey without --dns: %+v", j.DNS)
		}
	})
	t.Run("a qualified name with --dns", func(t *testing.T) {
		j, code := e.traceJSON(t, "client", "web.default.svc.cluster.local", "--dns")
		if code != 0 || j.Verdict != trace.Delivered {
			t.Fatalf("exit %d, verdict %q; want 0, delivered: %+v", code, j.Verdict, j)
		}
		inOrder(t, j.Request, []func(trace.Hop) bool{webService, dnat})
		d := j.DNS
		if d == nil || d.Verdict != trace.Delivered {
			t.Fatalf("no delivered DNS journey: %+v", d)
		}
		checkSchema(t, *d)
		// ndots:5: four dots, so the search list was tried first.
		for _, s := range []string{"web.default.svc.cluster.local. A? from pod default/client", "A " + svc,
			"web.default.svc.cluster.local.default.svc.cluster.local.: NXDOMAIN"} {
			if !strings.Contains(d.Summary, s) {
				t.Errorf("DNS summary %q does not say %q", d.Summary, s)
			}
		}
		inOrder(t, d.Request, []func(trace.Hop) bool{
			func(h trace.Hop) bool { return h.Pod == "default/client" && h.Component == "route" },
			func(h trace.Hop) bool {
				return h.Component == "nftables" && h.Owner != nil && *h.Owner == trace.Owner{Kind: "Service", Namespace: "kube-system", Name: "kube-dns"}
			},
			func(h trace.Hop) bool {
				return dnat(h) && h.Owner.Namespace == "kube-system" && strings.HasSuffix(h.Action, ":53")
			},
			func(h trace.Hop) bool { return strings.HasPrefix(h.Pod, "kube-system/") && h.Component == "socket" },
		})
		if len(d.Reply) == 0 || d.Reply[len(d.Reply)-1].Pod != "default/client" {
			t.Errorf("the DNS answer does not end at the client: %+v", d.Reply)
		}
		out, _, _ := e.run("trace", "--name", e.name, "client", "web.default.svc.cluster.local", "--dns")
		q, r := strings.Index(out, "DNS QUERY"), strings.Index(out, "\nREQUEST")
		if q < 0 || r < q || !strings.Contains(out, "✓ DNS DELIVERED") {
			t.Errorf("text output does not tell the DNS query before the request:\n%s", out)
		}
	})
	t.Run("an unknown name", func(t *testing.T) {
		_, errOut, code := e.run("trace", "--name", e.name, "client", "nope-tdl")
		if code != 2 || !strings.Contains(errOut, "searched: nope-tdl.default.svc.cluster.local.: NXDOMAIN") {
			t.Errorf("exit %d, %q; want 2 and the names searched", code, errOut)
		}
		_, errOut, code = e.run("trace", "--name", e.name, "node/kinn-worker", "web")
		if code != 2 || !strings.Contains(errOut, "from a pod") {
			t.Errorf("a name from a node: exit %d, %q; want 2, names need a pod", code, errOut)
		}
		for _, name := range []string{"dns/a..b", "dns/" + strings.Repeat("x", 64)} {
			_, errOut, code = e.run("trace", "--name", e.name, "client", name)
			if code != 2 || !strings.Contains(errOut, "no valid DNS name") {
				t.Errorf("%s: exit %d, %q; want 2, not a DNS name", name, code, errOut)
			}
		}
	})
	t.Run("live: a program's own connection", func(t *testing.T) {
		webs := e.webNetns()
		e.countDSCP(t, webs)
		cmd := kinnCmd(e.dirs, "trace", "--name", e.name, "--live", "client", "svc/web", "-o", "json", "--timeout", "20s")
		var out bytes.Buffer
		cmd.Stdout = &out
		stderr, _ := cmd.StderrPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// It says it waits once its tables are in place.
		line, _ := bufio.NewReader(stderr).ReadString('\n')
		if !strings.Contains(line, "waiting up to 20s") {
			cmd.Process.Kill()
			t.Fatalf("kinn trace --live said %q", line)
		}
		body, code := e.curl("client", "http://web/hostname")
		err := cmd.Wait()
		if code != 0 || !strings.HasPrefix(body, "web-") {
			t.Errorf("curl through the live trace: exit %d, %q", code, body)
		}
		var j trace.Journey
		if jerr := json.Unmarshal(out.Bytes(), &j); jerr != nil || err != nil || j.Verdict != trace.Delivered {
			t.Fatalf("kinn trace --live: %v, %v, verdict %q; want delivered:\n%s", err, jerr, j.Verdict, out.String())
		}
		checkSchema(t, j)
		inOrder(t, j.Request, []func(trace.Hop) bool{webService, dnat, func(h trace.Hop) bool {
			return h.Component == "conntrack" && strings.Contains(h.Action, "DNAT "+svc+":80")
		}})
		if n := len(j.Reply); n == 0 || !strings.Contains(j.Reply[n-1].Action, "reached the program") {
			t.Errorf("the reply does not end at the program: %+v", j.Reply)
		}
		e.noDSCPArrived(t, webs)
	})
	t.Run("live: no connection comes", func(t *testing.T) {
		j, code := e.traceJSON(t, "--live", "client", "svc/web", "--timeout", "1s")
		if code != 1 || j.Verdict != trace.Error || !strings.Contains(j.Summary, "no new TCP connection from pod default/client to "+svc+":80 within 1s") ||
			len(j.Request) != 0 {
			t.Errorf("exit %d, %+v; want 1, an error saying no connection came, nothing traced", code, j)
		}
	})
	e.noTraceTables(t)
}

// webNetns lists the web pods' namespaces.
func (e *env) webNetns() []string {
	var out []string
	for _, p := range e.pods() {
		if strings.HasPrefix(p.Name, "web-") {
			out = append(out, "kinn."+e.name+".pod.default."+p.Name)
		}
	}
	return out
}

// countDSCP counts, in each namespace, the packets to port 8080 that
// reach the socket, and those of them that carry the trace's DSCP.
func (e *env) countDSCP(t *testing.T, nss []string) {
	t.Helper()
	for _, ns := range nss {
		cmd := exec.Command("ip", "netns", "exec", ns, "nft", "-f", "-")
		cmd.Stdin = strings.NewReader("table ip tdl-count {\n chain in {\n type filter hook input priority 400\n" +
			"tcp dport 8080 ip dscp 0x2d counter\n tcp dport 8080 counter\n }\n}\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("nft in %s: %v %s", ns, err, out)
		}
		t.Cleanup(func() { exec.Command("ip", "netns", "exec", ns, "nft", "delete", "table", "ip", "tdl-count").Run() })
	}
}

// noDSCPArrived checks that packets arrived and none kept the DSCP.
func (e *env) noDSCPArrived(t *testing.T, nss []string) {
	t.Helper()
	total := 0
	for _, ns := range nss {
		out, err := exec.Command("ip", "netns", "exec", ns, "nft", "list", "table", "ip", "tdl-count").CombinedOutput()
		if err != nil {
			t.Fatalf("nft in %s: %v %s", ns, err, out)
		}
		for _, l := range strings.Split(string(out), "\n") {
			var n int
			if _, after, ok := strings.Cut(l, "counter packets "); ok {
				f := strings.Fields(after)
				json.Unmarshal([]byte(f[0]), &n)
			}
			switch {
			case strings.Contains(l, "dscp 0x2d") && n > 0:
				t.Errorf("%d packets reached the web pod in %s with the trace's DSCP", n, ns)
			case strings.Contains(l, "counter packets"):
				total += n
			}
		}
	}
	if total == 0 {
		t.Error("no packet to port 8080 reached a web pod")
	}
}
