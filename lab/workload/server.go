package workload

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// EnterFunc runs f inside the named network namespace (kernel.Do in the
// lab; a plain call in tests).
type EnterFunc func(netns string, f func() error) error

// PodInfo is what the servers say about the pod they run in.
type PodInfo struct {
	Namespace, Name, Node string
	IP                    netip.Addr
	// Hostname is what /hostname answers; empty means Name. Kubernetes sets
	// a pod's hostname from spec.hostname when given (DNS tests rely on it).
	Hostname string
}

// PodInfoOf describes pod, placed on its node with address ip.
func PodInfoOf(pod *corev1.Pod, ip netip.Addr) PodInfo {
	return PodInfo{Namespace: pod.Namespace, Name: pod.Name, Node: pod.Spec.NodeName, IP: ip, Hostname: pod.Spec.Hostname}
}

func (p PodInfo) hostname() string { return cmp.Or(p.Hostname, p.Name) }

// Server serves a pod's ports until Stop.
type Server struct {
	pod      PodInfo
	health   atomic.Int32 // what /healthz answers on every port; 0 is 200
	http     []*httpPort
	udp      []*udpPort
	wg       sync.WaitGroup
	stopOnce sync.Once
}

// counted is a bound port with the number of requests it answered.
type counted struct {
	port     Port // as bound: a requested port 0 shows the kernel's choice
	requests atomic.Uint64
}

type httpPort struct {
	counted
	ln  net.Listener
	srv *http.Server
}

type udpPort struct {
	counted
	conn *net.UDPConn
}

// Start opens every port inside netns through enter, then serves them from
// this process's goroutines until Stop. SCTP ports are skipped (agnhost
// would serve them; Go's net package cannot). Either every TCP/UDP port
// is served or none is and the error says which failed.
func Start(enter EnterFunc, netns string, pod PodInfo, ports []Port) (*Server, error) {
	s := &Server{pod: pod}
	err := enter(netns, func() error { return s.listen(ports) })
	if err != nil {
		s.closeAll()
		return nil, fmt.Errorf("listen in %s: %w", netns, err)
	}
	for _, p := range s.http {
		s.wg.Go(func() { p.srv.Serve(p.ln) })
	}
	for _, p := range s.udp {
		s.wg.Go(func() { s.serveUDP(p) })
	}
	return s, nil
}

// listen creates the sockets; it must run inside the pod's namespace.
func (s *Server) listen(ports []Port) error {
	wild := "0.0.0.0"
	if s.pod.IP.Is6() {
		wild = "::"
	}
	skipped := 0
	for _, p := range ports {
		addr := net.JoinHostPort(wild, strconv.Itoa(int(p.Port)))
		switch p.Protocol {
		case TCP:
			ln, err := net.Listen(family("tcp", s.pod.IP), addr)
			if err != nil {
				return err
			}
			s.http = append(s.http, s.newHTTPPort(ln))
		case UDP:
			conn, err := net.ListenUDP(family("udp", s.pod.IP), net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
			if err != nil {
				return err
			}
			up := &udpPort{conn: conn}
			up.port = Port{uint16(conn.LocalAddr().(*net.UDPAddr).Port), UDP}
			s.udp = append(s.udp, up)
		default:
			skipped++
		}
	}
	if skipped > 0 {
		log.Printf("pod %s/%s: %d SCTP or unknown-protocol port(s) not served", s.pod.Namespace, s.pod.Name, skipped)
	}
	return nil
}

// family pins the socket to the pod address's family, so an IPv4 pod's
// wildcard is 0.0.0.0 as the caller asked, not a dual-stack [::].
func family(network string, ip netip.Addr) string {
	if ip.Is6() {
		return network + "6"
	}
	return network + "4"
}

func (s *Server) newHTTPPort(ln net.Listener) *httpPort {
	hp := &httpPort{ln: ln}
	hp.port = Port{uint16(ln.Addr().(*net.TCPAddr).Port), TCP}
	h := handler{pod: s.pod, health: &s.health}
	hp.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hp.requests.Add(1)
			h.ServeHTTP(w, r)
		}),
		// A stuck client must not pin a goroutine for the lab's lifetime.
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	return hp
}

// Ports lists the ports being served, as bound.
func (s *Server) Ports() []Port {
	var out []Port
	for _, c := range s.counters() {
		out = append(out, c.port)
	}
	return out
}

// Stop closes every socket and waits for the serving goroutines. Requests
// in flight get a second to finish.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		for _, p := range s.http {
			if err := p.srv.Shutdown(ctx); err != nil {
				p.srv.Close()
			}
		}
		s.closeAll()
		s.wg.Wait()
	})
}

// closeAll closes the raw sockets; also used when Start fails half-way.
func (s *Server) closeAll() {
	for _, p := range s.http {
		p.ln.Close()
	}
	for _, p := range s.udp {
		p.conn.Close()
	}
}

// PortStats counts the requests (HTTP requests or UDP datagrams) one port
// answered.
type PortStats struct {
	Port     Port
	Requests uint64
}

// Stats is a snapshot of a server's counters, ordered by protocol and port.
type Stats struct{ Ports []PortStats }

// Stats returns the current counters.
func (s *Server) Stats() Stats {
	var st Stats
	for _, c := range s.counters() {
		st.Ports = append(st.Ports, PortStats{Port: c.port, Requests: c.requests.Load()})
	}
	return st
}

func (s *Server) counters() []*counted {
	var cs []*counted
	for _, p := range s.http {
		cs = append(cs, &p.counted)
	}
	for _, p := range s.udp {
		cs = append(cs, &p.counted)
	}
	slices.SortFunc(cs, func(a, b *counted) int {
		return cmp.Or(cmp.Compare(a.port.Protocol, b.port.Protocol), cmp.Compare(a.port.Port, b.port.Port))
	})
	return cs
}

// serveUDP answers datagrams until the socket is closed.
func (s *Server) serveUDP(p *udpPort) {
	buf := make([]byte, 64<<10) // the largest UDP payload fits
	for {
		n, from, err := p.conn.ReadFromUDPAddrPort(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue // e.g. ICMP errors surfacing from an earlier reply
		}
		p.requests.Add(1)
		p.conn.WriteToUDPAddrPort(udpReply(s.pod, buf[:n], from), from)
	}
}
