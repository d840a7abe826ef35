// Package service turns a lab's Services and pods into what the service
// proxy and the CLI need: ClusterIP and NodePort allocation, endpoints
// (EndpointSlices) with their ready/serving/terminating conditions, and one
// Port per service port for the proxy. It is pure: no kernel, no clock.
package service

import (
	"net/netip"
	"time"
)

// Protocol is a service port's protocol as Kubernetes spells it.
type Protocol string

const (
	TCP  Protocol = "TCP"
	UDP  Protocol = "UDP"
	SCTP Protocol = "SCTP"
)

// Endpoint is one pod backing one service port.
type Endpoint struct {
	Namespace, Pod, Node string
	IP                   netip.Addr
	Port                 uint16 // the target port resolved for this pod (named ports resolve per pod)
	Ready                bool   // EndpointSlice conditions, as the endpoint slice controller sets them
	Serving              bool
	Terminating          bool
}

// Port is one port of one Service, as the proxy programs it. A Service with
// two ports is two Ports; a headless or proxy-ignored Service yields none.
type Port struct {
	Namespace, Service string
	Name               string // the port's name ("" for a single unnamed port)
	Protocol           Protocol
	ClusterIP          netip.Addr // always valid here: headless services are not proxied
	Port               uint16
	NodePort           uint16 // 0 when the Service has none
	ExternalIPs        []netip.Addr
	// LoadBalancerIPs are the status.loadBalancer.ingress addresses the
	// proxy takes as its own: those of ipMode VIP (or none given), as
	// kube-proxy; a Proxy-mode load balancer delivers to the node port.
	LoadBalancerIPs []netip.Addr
	// ProxiedLoadBalancerIPs are the ingress addresses of ipMode Proxy:
	// the load balancer (the lab's switch) forwards them to the node port
	// itself, from its own address, and the nodes' proxies ignore them.
	ProxiedLoadBalancerIPs []netip.Addr
	// SourceRanges is spec.loadBalancerSourceRanges: when set, only these
	// clients may reach the LoadBalancerIPs (node ports stay open to all).
	SourceRanges []netip.Prefix
	// Affinity is the ClientIP session affinity timeout; 0 means none.
	Affinity time.Duration
	// ExternalLocal is externalTrafficPolicy: Local (NodePort, external IPs).
	ExternalLocal bool
	// InternalLocal is internalTrafficPolicy: Local (ClusterIP).
	InternalLocal bool
	// HealthCheckNodePort answers /healthz for ExternalLocal services; 0 if none.
	HealthCheckNodePort uint16
	// Endpoints are all endpoints of the port, ready or not; the proxy
	// chooses among them as kube-proxy does.
	Endpoints []Endpoint
}

// Key names the port uniquely: namespace/service:name/protocol.
func (p Port) Key() string {
	return p.Namespace + "/" + p.Service + ":" + p.Name + "/" + string(p.Protocol)
}
