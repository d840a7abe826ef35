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
	"time"

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
	node  *nodeHealth // the node's proxy health, for serviceProxyHealthy
}

func (h *healthServer) close() { h.srv.Close() }

// healthKey names what a node's health servers belong to: the
// namespace's identity is part of it, so a recreated node gets new
// servers and the old ones go with the old namespace.
func healthKey(netns string) string { return fmt.Sprintf("%s#%d:", netns, kernel.NetnsID(netns)) }

func (p *proxies) syncHealth(netns string, ip netip.Addr, checks []proxy.HealthCheck) {
	want := map[string]bool{}
	prefix := healthKey(netns)
	node := p.nodeHealth[prefix]
	for _, c := range checks {
		key := fmt.Sprintf("%s%d", prefix, c.NodePort)
		want[key] = true
		h := p.health[key]
		if h == nil {
			var err error
			if h, err = startHealth(netns, netip.AddrPortFrom(ip, c.NodePort), node); err != nil {
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

func startHealth(netns string, addr netip.AddrPort, node *nodeHealth) (*healthServer, error) {
	var ln net.Listener
	err := kernel.Do(netns, func() error {
		var err error
		ln, err = net.Listen("tcp4", addr.String())
		return err
	})
	if err != nil {
		return nil, err
	}
	h := &healthServer{node: node}
	h.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := h.check.Load()
		if c == nil {
			return // not synced yet; kube-proxy answers nothing either
		}
		a := c.Answer(h.node.healthy())
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set(proxy.HeaderEndpointWeight, strconv.Itoa(a.Weight))
		w.WriteHeader(a.Status)
		fmt.Fprint(w, a.Body)
	})}
	go h.srv.Serve(ln)
	return h, nil
}

// nodeHealth is kube-proxy's own health on one node: healthy while the
// last sync of the node's table succeeded. It serves /healthz and /livez
// on proxy.ProxyHealthPort in the node's namespace, as kube-proxy does on
// its node.
type nodeHealth struct {
	srv   *http.Server // nil when the port could not be had
	state atomic.Pointer[syncState]
}

type syncState struct {
	ok   bool
	last time.Time // the last successful sync
}

func (n *nodeHealth) healthy() bool {
	if n == nil {
		return true // no sync recorded: the service health checks alone decide
	}
	s := n.state.Load()
	return s != nil && s.ok
}

func (n *nodeHealth) close() {
	if n.srv != nil {
		n.srv.Close()
	}
}

// synced records the outcome of a sync of netns's table, starting the
// node's health server on its first sync.
func (p *proxies) synced(netns string, syncErr error) {
	key := healthKey(netns)
	n := p.nodeHealth[key]
	if n == nil {
		n = &nodeHealth{}
		var err error
		if n.srv, err = startProxyHealth(netns, n); err != nil {
			log.Printf("proxy health port %d in %s: %v", proxy.ProxyHealthPort, netns, err)
		}
		p.nodeHealth[key] = n
	}
	s := syncState{ok: syncErr == nil}
	if old := n.state.Load(); old != nil {
		s.last = old.last
	}
	if s.ok {
		s.last = time.Now()
	}
	n.state.Store(&s)
}

func startProxyHealth(netns string, n *nodeHealth) (*http.Server, error) {
	var ln net.Listener
	err := kernel.Do(netns, func() error {
		var err error
		ln, err = net.Listen("tcp", fmt.Sprintf(":%d", proxy.ProxyHealthPort))
		return err
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	for _, path := range []string{"/healthz", "/livez"} {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			var last time.Time
			if s := n.state.Load(); s != nil {
				last = s.last
			}
			status, body := proxy.ProxyHealthAnswer(path, n.healthy(), last, time.Now())
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Content-Type-Options", "nosniff")
			w.WriteHeader(status)
			fmt.Fprint(w, body)
		})
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	return srv, nil
}
