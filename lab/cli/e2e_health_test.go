package cli_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	"sigs.k8s.io/yaml"
)

// httpAnswer is one answer as curl -D - shows it.
type httpAnswer struct {
	status int
	header http.Header
	body   string
}

// curlOutside asks url from outside the cluster (the switch namespace)
// and returns the answer; ok is false when nothing answered.
func (e *env) curlOutside(url string) (httpAnswer, bool) {
	e.t.Helper()
	out, _, code := e.run("exec", "--name", e.name, "--external", "--", "curl", "-sS", "-m", "2", "-D", "-", url)
	if code != 0 {
		return httpAnswer{}, false
	}
	head, body, _ := strings.Cut(out, "\r\n\r\n")
	lines := strings.Split(head, "\r\n")
	a := httpAnswer{header: http.Header{}, body: body}
	if f := strings.Fields(lines[0]); len(f) >= 2 {
		a.status, _ = strconv.Atoi(f[1])
	}
	for _, l := range lines[1:] {
		if k, v, ok := strings.Cut(l, ":"); ok {
			a.header.Add(k, strings.TrimSpace(v))
		}
	}
	return a, true
}

// eventually retries check for a few seconds (the lab process syncs the
// proxy after a change) and returns its last complaint, "" once it passes.
func eventually(check func() string) string {
	var msg string
	for range 20 {
		if msg = check(); msg == "" {
			return ""
		}
		time.Sleep(300 * time.Millisecond)
	}
	return msg
}

// TestHealthCheckNodePort: a LoadBalancer Service with
// externalTrafficPolicy Local gets kube-proxy's health check on its
// healthCheckNodePort on every node (pkg/proxy/healthcheck/service_health.go):
// the Service's name and the node's local endpoints in the body and the
// X-Load-Balancing-Endpoint-Weight header, 200 with local endpoints, 503
// without, so that a load balancer skips the node.
func TestHealthCheckNodePort(t *testing.T) {
	e := newEnv(t, "hc")
	e.up("")
	e.apply(`apiVersion: v1
kind: Service
metadata: {name: lb-local}
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  healthCheckNodePort: 32100
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
`)
	e.checkPasses()
	webOn := map[string][]string{}
	for _, p := range e.pods() {
		if strings.HasPrefix(p.Name, "web-") {
			webOn[p.Spec.NodeName] = append(webOn[p.Spec.NodeName], p.Name)
		}
	}
	nodes := e.nodes()
	// Every web pod on the first node that has one turns unready: that
	// node must answer 503 from then on.
	var drained string
	for _, n := range nodes {
		if len(webOn[n.Name]) > 0 {
			drained = n.Name
			break
		}
	}
	if drained == "" {
		t.Fatalf("no web pod on any node: %v", webOn)
	}
	for _, step := range []string{"all ready", "drained"} {
		if step == "drained" {
			for _, p := range webOn[drained] {
				e.must("ready", "--name", e.name, p, "false")
			}
		}
		for _, n := range nodes {
			local := len(webOn[n.Name])
			if step == "drained" && n.Name == drained {
				local = 0
			}
			url := "http://" + n.Status.Addresses[0].Address + ":32100/healthz"
			if msg := eventually(func() string { return healthProblem(e, url, local) }); msg != "" {
				t.Errorf("%s: node %s (%d local endpoints): %s", step, n.Name, local, msg)
			}
		}
	}
}

// healthProblem says how the answer on url differs from kube-proxy's for
// default/lb-local with local endpoints, "" when it does not.
func healthProblem(e *env, url string, local int) string {
	a, ok := e.curlOutside(url)
	if !ok {
		return "no answer"
	}
	wantStatus := http.StatusOK
	if local == 0 {
		wantStatus = http.StatusServiceUnavailable
	}
	var body struct {
		Service             struct{ Namespace, Name string }
		LocalEndpoints      int
		ServiceProxyHealthy bool
	}
	err := json.Unmarshal([]byte(a.body), &body)
	switch {
	case a.status != wantStatus:
		return "status " + http.StatusText(a.status) + ", want " + http.StatusText(wantStatus)
	case a.header.Get("X-Load-Balancing-Endpoint-Weight") != strconv.Itoa(local):
		return "weight header " + a.header.Get("X-Load-Balancing-Endpoint-Weight") + ", want " + strconv.Itoa(local)
	case err != nil || body.Service.Namespace != "default" || body.Service.Name != "lb-local" ||
		body.LocalEndpoints != local || !body.ServiceProxyHealthy:
		return "body " + a.body
	}
	return ""
}

// TestKubeProxyHealthz: every node serves kube-proxy's own health on
// port 10256 (pkg/proxy/healthcheck/proxy_health.go): /healthz and /livez
// answer 200 with the times as JSON while the node's proxy synced, and
// /healthz says the node is eligible for traffic.
func TestKubeProxyHealthz(t *testing.T) {
	e := newEnv(t, "kph")
	e.up("")
	for _, n := range e.nodes() {
		for _, path := range []string{"/healthz", "/livez"} {
			url := "http://" + n.Status.Addresses[0].Address + ":10256" + path
			a, ok := e.curlOutside(url)
			var body struct {
				LastUpdated, CurrentTime time.Time
				NodeEligible             *bool
			}
			err := json.Unmarshal([]byte(a.body), &body)
			switch {
			case !ok:
				t.Errorf("%s: no answer", url)
			case a.status != http.StatusOK || err != nil || body.LastUpdated.IsZero() || body.CurrentTime.IsZero():
				t.Errorf("%s: status %d body %q (%v)", url, a.status, a.body, err)
			case (path == "/healthz") != (body.NodeEligible != nil && *body.NodeEligible):
				t.Errorf("%s: nodeEligible in %q", url, a.body)
			}
		}
	}
}

// TestPublishNotReadyAddressesConditions: with publishNotReadyAddresses
// an unready pod's endpoint is ready (published) but not serving, as the
// EndpointSlice controller's podToEndpoint writes it, in `kinn get
// endpointslices -o yaml`.
func TestPublishNotReadyAddressesConditions(t *testing.T) {
	e := newEnv(t, "pnra")
	e.up("")
	e.apply(`apiVersion: v1
kind: Service
metadata: {name: published}
spec:
  clusterIP: None
  publishNotReadyAddresses: true
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
`)
	var victim string
	for _, p := range e.pods() {
		if strings.HasPrefix(p.Name, "web-") {
			victim = p.Name
		}
	}
	e.must("ready", "--name", e.name, victim, "false")
	if msg := eventually(func() string {
		out := e.must("get", "endpointslices", "--name", e.name, "-o", "yaml")
		var list discoveryv1.EndpointSliceList
		if err := yaml.Unmarshal([]byte(out), &list); err != nil {
			return err.Error()
		}
		for _, s := range list.Items {
			if s.Labels[discoveryv1.LabelServiceName] != "published" {
				continue
			}
			for _, ep := range s.Endpoints {
				if c := ep.Conditions; ep.TargetRef.Name == victim && (!*c.Ready || *c.Serving || *c.Terminating) {
					return fmt.Sprintf("%s: ready %v serving %v terminating %v, want true false false", victim, *c.Ready, *c.Serving, *c.Terminating)
				} else if ep.TargetRef.Name == victim {
					return ""
				}
			}
		}
		return "no endpoint for " + victim + " in the slices of published:\n" + out
	}); msg != "" {
		t.Error(msg)
	}
}
