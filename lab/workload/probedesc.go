package workload

import (
	"fmt"
	"net"
	"net/url"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Describe is a probe in kubectl describe's words (DescribeProbe in
// k8s.io/kubectl/pkg/describe), with the API server's defaults applied as
// a real cluster would have stored them: "http-get http://:8080/healthz
// delay=0s timeout=1s period=10s #success=1 #failure=3".
func Describe(p *corev1.Probe) string {
	attrs := fmt.Sprintf("delay=%ds timeout=%ds period=%ds #success=%d #failure=%d",
		p.InitialDelaySeconds, orDefault(p.TimeoutSeconds, 1), orDefault(p.PeriodSeconds, 10),
		orDefault(p.SuccessThreshold, 1), orDefault(p.FailureThreshold, 3))
	switch {
	case p.Exec != nil:
		return fmt.Sprintf("exec %v %s", p.Exec.Command, attrs)
	case p.HTTPGet != nil:
		g := p.HTTPGet
		u := &url.URL{Scheme: strings.ToLower(string(orDefault(g.Scheme, corev1.URISchemeHTTP))), Host: g.Host, Path: g.Path}
		if g.Port.String() != "" {
			u.Host = net.JoinHostPort(g.Host, g.Port.String())
		}
		return fmt.Sprintf("http-get %s %s", u, attrs)
	case p.TCPSocket != nil:
		return fmt.Sprintf("tcp-socket %s:%s %s", p.TCPSocket.Host, p.TCPSocket.Port.String(), attrs)
	case p.GRPC != nil:
		svc := ""
		if p.GRPC.Service != nil {
			svc = *p.GRPC.Service
		}
		return fmt.Sprintf("grpc <pod>:%d %s %s", p.GRPC.Port, svc, attrs)
	}
	return "unknown " + attrs
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
