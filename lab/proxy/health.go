package proxy

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"kinn.dev/kinn/lab/service"
)

// HealthCheck is one health-check node port a node serves for
// externalTrafficPolicy: Local services: /healthz answers 200 while
// LocalEndpoints > 0 and 503 otherwise, so load balancers skip nodes without
// a local endpoint. It is not part of the nftables ruleset.
type HealthCheck struct {
	NodePort       uint16
	LocalEndpoints int
	Services       []string // namespace/name of the services using the port
}

// HealthChecks lists the health-check node ports of ports, with the number of
// distinct ready endpoints on node (as kube-proxy counts them), sorted by port.
func HealthChecks(node Node, ports []service.Port) []HealthCheck {
	type acc struct {
		ips      map[netip.Addr]bool
		services []string
	}
	by := map[uint16]*acc{}
	for _, p := range ports {
		if !p.ExternalLocal || p.HealthCheckNodePort == 0 {
			continue
		}
		a := by[p.HealthCheckNodePort]
		if a == nil {
			a = &acc{ips: map[netip.Addr]bool{}}
			by[p.HealthCheckNodePort] = a
		}
		if svc := p.Namespace + "/" + p.Service; !slices.Contains(a.services, svc) {
			a.services = append(a.services, svc)
		}
		for _, ep := range p.Endpoints {
			if ep.Ready && ep.Node == node.Name {
				a.ips[ep.IP] = true
			}
		}
	}
	var out []HealthCheck
	for port, a := range by {
		slices.Sort(a.services)
		out = append(out, HealthCheck{NodePort: port, LocalEndpoints: len(a.ips), Services: a.services})
	}
	slices.SortFunc(out, func(a, b HealthCheck) int { return cmp.Compare(a.NodePort, b.NodePort) })
	return out
}

// HealthAnswer is what kube-proxy answers on a health-check node port
// (kubernetes pkg/proxy/healthcheck/service_health.go): load balancers
// read the status, and some weigh nodes by the endpoint-weight header.
type HealthAnswer struct {
	Status int    // 200 with local endpoints and a healthy proxy, else 503
	Weight int    // X-Load-Balancing-Endpoint-Weight: the local endpoints
	Body   string // kube-proxy's JSON, byte for byte
}

// HeaderEndpointWeight is the header kube-proxy sets to the number of
// local endpoints.
const HeaderEndpointWeight = "X-Load-Balancing-Endpoint-Weight"

// Answer is kube-proxy's answer for c while the proxy is, or is not,
// healthy. kube-proxy serves one Service per port; when several share
// one here, the first names them.
func (c HealthCheck) Answer(proxyHealthy bool) HealthAnswer {
	var ns, name string
	if len(c.Services) > 0 {
		ns, name, _ = strings.Cut(c.Services[0], "/")
	}
	status := http.StatusServiceUnavailable
	if c.LocalEndpoints != 0 && proxyHealthy {
		status = http.StatusOK
	}
	body := fmt.Sprintf("{\n\t\"service\": {\n\t\t\"namespace\": %q,\n\t\t\"name\": %q\n\t},"+
		"\n\t\"localEndpoints\": %d,\n\t\"serviceProxyHealthy\": %v\n}", ns, name, c.LocalEndpoints, proxyHealthy)
	return HealthAnswer{Status: status, Weight: c.LocalEndpoints, Body: body}
}

// ProxyHealthPort is kube-proxy's healthz port (--healthz-bind-address
// 0.0.0.0:10256), which kubelets, load balancers and learners probe.
const ProxyHealthPort = 10256

// ProxyHealthAnswer is kube-proxy's own answer on /healthz or /livez
// (kubernetes pkg/proxy/healthcheck/proxy_health.go) while the proxy is,
// or is not, healthy: kinn's proxy is healthy when its last sync of the
// node succeeded, at lastUpdated. As kube-proxy does, a healthy proxy
// reports lastUpdated as now; /healthz also says the node is eligible for
// traffic, which kinn's nodes always are (none is ever being deleted).
func ProxyHealthAnswer(path string, healthy bool, lastUpdated, now time.Time) (status int, body string) {
	status = http.StatusServiceUnavailable
	if healthy {
		status, lastUpdated = http.StatusOK, now
	}
	v := struct {
		LastUpdated  time.Time `json:"lastUpdated"`
		CurrentTime  time.Time `json:"currentTime"`
		NodeEligible *bool     `json:"nodeEligible,omitempty"`
	}{LastUpdated: lastUpdated, CurrentTime: now}
	if path == "/healthz" {
		eligible := true
		v.NodeEligible = &eligible
	}
	b, _ := json.Marshal(v) // cannot fail: times and a bool
	return status, string(b)
}
