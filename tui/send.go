package tui

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"kinn.dev/kinn/lab/probe"
)

// What "send requests" sends depends on what the Service's port speaks:
// a DNS query to a DNS port, HTTPS to a TLS port (the kubernetes
// Service), a "hostname" datagram to other UDP ports and an HTTP GET
// /hostname to other TCP ports (kinn's built-in server answers both with
// the pod's name). An HTTP answer that is not HTTP says so.

// portSpeaks is "dns", "tls", "udp" or "http" for a Service port, by its
// appProtocol, its name and its number, as a user would guess.
func portSpeaks(p corev1.ServicePort) string {
	app := ""
	if p.AppProtocol != nil {
		app = strings.ToLower(*p.AppProtocol)
	}
	name := strings.ToLower(p.Name)
	switch {
	case app == "dns" || strings.HasPrefix(name, "dns") || p.Port == 53:
		return "dns"
	case app == "https" || strings.HasPrefix(name, "https") || p.Port == 443 || p.Port == 6443:
		return "tls"
	case p.Protocol == corev1.ProtocolUDP:
		return "udp"
	}
	return "http"
}

// request sends one request of the kind the port speaks and returns what
// the counts are keyed by: the answering pod's name where the answer
// says it, else what came back.
func request(ctx context.Context, p probe.Prober, speaks, addr, proto, domain string) (string, error) {
	switch speaks {
	case "dns":
		name := "kubernetes.default.svc." + domain
		ips, err := p.Lookup(ctx, addr, strings.ToLower(proto), name)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("DNS %s = %s", name, ips[0]), nil
	case "tls":
		return httpsGet(ctx, p, addr)
	case "udp":
		body, err := p.UDP(ctx, addr, "hostname")
		return strings.TrimSpace(body), err
	}
	body, err := p.HTTPGet(ctx, addr, "/hostname")
	if err != nil && strings.Contains(err.Error(), "malformed HTTP") {
		return "", fmt.Errorf("the port does not speak HTTP: %w", err)
	}
	return strings.TrimSpace(body), err
}

// httpsGet asks a TLS port for /healthz and names the server by its
// certificate. The certificate is not verified: the request only shows
// the path through the Service, as `curl -k` would.
func httpsGet(ctx context.Context, p probe.Prober, addr string) (string, error) {
	tr := &http.Transport{DialContext: p.Dial, DisableKeepAlives: true,
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // a lab's self-signed apiserver
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+addr+"/healthz", nil)
	if err != nil {
		return "", err
	}
	resp, err := (&http.Client{Transport: tr, Timeout: p.Timeout}).Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	who := "TLS"
	if resp.TLS != nil && len(resp.TLS.PeerCertificates) > 0 {
		who = resp.TLS.PeerCertificates[0].Subject.CommonName + " (TLS)"
	}
	return fmt.Sprintf("%s /healthz %s", who, strings.TrimSpace(string(body))), nil
}

// failure is the key a failed request counts under: the kind of failure,
// and "not HTTP" when the port answered something else.
func failure(err error) string {
	if strings.Contains(err.Error(), "does not speak HTTP") {
		return "<not HTTP>"
	}
	return "<" + string(probe.Classify(err)) + ">"
}
