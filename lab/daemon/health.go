package daemon

import (
	"fmt"
	"log"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"

	"kinn.dev/kinn/lab/kernel"
	"kinn.dev/kinn/lab/proxy"
)

// healthServer answers kube-proxy's health check for externalTrafficPolicy
// Local services on one node, as kube-proxy does (proxy.HealthCheck.Answer):
// 200 while the node has a local endpoint and 503 when it has none, so a
// load balancer skips the node.
type healthServer struct {
	srv   *http.Server
	check atomic.Pointer[proxy.HealthCheck]
}

func (h *healthServer) close() { h.srv.Close() }

func (p *proxies) syncHealth(netns string, ip netip.Addr, checks []proxy.HealthCheck) {
	want := map[string]bool{}
	// The namespace's identity is part of the key: a recreated node gets
	// new servers, the old ones go with the old namespace.
	prefix := fmt.Sprintf("%s#%d:", netns, kernel.NetnsID(netns))
	for _, c := range checks {
		key := fmt.Sprintf("%s%d", prefix, c.NodePort)
		want[key] = true
		h := p.health[key]
		if h == nil {
			var err error
			if h, err = startHealth(netns, netip.AddrPortFrom(ip, c.NodePort)); err != nil {
				log.Printf("health check port %d in %s: %v", c.NodePort, netns, err)
				continue
			}
			p.health[key] = h
		}
		h.check.Store(&c)
	}
	for key, h := range p.health {
		if !want[key] && strings.HasPrefix(key, netns+"#") {
			h.close()
			delete(p.health, key)
		}
	}
}

func startHealth(netns string, addr netip.AddrPort) (*healthServer, error) {
	var ln net.Listener
	err := kernel.Do(netns, func() error {
		var err error
		ln, err = net.Listen("tcp4", addr.String())
		return err
	})
	if err != nil {
		return nil, err
	}
	h := &healthServer{}
	h.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := h.check.Load()
		if c == nil {
			return // not synced yet; kube-proxy answers nothing either
		}
		a := c.Answer(true)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set(proxy.HeaderEndpointWeight, strconv.Itoa(a.Weight))
		w.WriteHeader(a.Status)
		fmt.Fprint(w, a.Body)
	})}
	go h.srv.Serve(ln)
	return h, nil
}
