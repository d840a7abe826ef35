package dns

import (
	"context"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"

	"kinn.dev/kinn/lab/service"
)

// serve runs s on fresh loopback sockets until the test ends and returns
// the UDP and TCP addresses.
func serve(t *testing.T, s *Server) (udp, tcp string) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(pc, ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return pc.LocalAddr().String(), ln.Addr().String()
}

func exchange(t *testing.T, network, addr string, req *dns.Msg) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: network, Timeout: 5 * time.Second}
	m, _, err := c.Exchange(req, addr)
	if err != nil {
		t.Fatalf("%s exchange: %v", network, err)
	}
	return m
}

func TestServerUpdate(t *testing.T) {
	t.Parallel()
	const name = "web.default.svc.cluster.local."
	zoneWith := func(ip string) *Zone {
		return NewZone("", []*corev1.Service{newSvc("default", "web", ip)}, nil, nil)
	}
	s := new(Server)
	udp, tcp := serve(t, s)
	steps := []struct {
		zone  *Zone
		rcode int
		want  []string
	}{
		{nil, dns.RcodeServerFailure, nil}, // no zone yet
		{zoneWith("10.96.0.20"), dns.RcodeSuccess, []string{name + " 30 IN A 10.96.0.20"}},
		{zoneWith("10.96.0.21"), dns.RcodeSuccess, []string{name + " 30 IN A 10.96.0.21"}},
	}
	for i, step := range steps {
		if step.zone != nil {
			s.Update(step.zone)
		}
		for _, tr := range []struct{ network, addr string }{{"udp", udp}, {"tcp", tcp}} {
			m := exchange(t, tr.network, tr.addr, query(name, dns.TypeA))
			if got := texts(m.Answer); m.Rcode != step.rcode || !slices.Equal(got, step.want) {
				t.Errorf("step %d over %s: %s %q, want %s %q", i, tr.network,
					dns.RcodeToString[m.Rcode], got, dns.RcodeToString[step.rcode], step.want)
			}
		}
	}
}

// A headless Service with a hundred endpoints does not fit in 512 bytes.
func TestServerTruncates(t *testing.T) {
	t.Parallel()
	const endpoints = 100
	var pods []service.PodState
	for i := range endpoints {
		pods = append(pods, newPod("default", fmt.Sprintf("big-%d", i), "big", fmt.Sprintf("10.244.%d.%d", i/200, i%200+1)))
	}
	z := NewZone("", []*corev1.Service{newSvc("default", "big", "None", selecting("big"))}, pods, nil)
	udp, tcp := serve(t, NewServer(z))
	plain := func() *dns.Msg { return query("big.default.svc.cluster.local.", dns.TypeA) }
	edns := func(size uint16) *dns.Msg { return plain().SetEdns0(size, false) }
	tests := []struct {
		name      string
		network   string
		req       *dns.Msg
		limit     int
		truncated bool
	}{
		{"UDP without EDNS0", "udp", plain(), dns.MinMsgSize, true},
		{"UDP with a smaller EDNS0 buffer than 512", "udp", edns(100), dns.MinMsgSize, true},
		{"UDP with 1232 bytes", "udp", edns(1232), 1232, true},
		{"UDP with 4096 bytes", "udp", edns(4096), 4096, false},
		{"TCP", "tcp", plain(), dns.MaxMsgSize, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := map[string]string{"udp": udp, "tcp": tcp}[tc.network]
			m, size := rawExchange(t, tc.network, addr, tc.req)
			if size > tc.limit {
				t.Errorf("reply of %d bytes, limit %d", size, tc.limit)
			}
			if m.Truncated != tc.truncated {
				t.Errorf("TC %t, want %t", m.Truncated, tc.truncated)
			}
			if n := len(m.Answer); tc.truncated && (n == 0 || n >= endpoints) || !tc.truncated && n != endpoints {
				t.Errorf("%d answers of %d, truncated %t", n, endpoints, m.Truncated)
			}
			if (tc.req.IsEdns0() != nil) != (m.IsEdns0() != nil) {
				t.Errorf("reply OPT %v for request OPT %v", m.IsEdns0(), tc.req.IsEdns0())
			}
		})
	}
}

// rawExchange sends req and returns the reply with its size on the wire,
// which dns.Client does not report.
func rawExchange(t *testing.T, network, addr string, req *dns.Msg) (*dns.Msg, int) {
	t.Helper()
	conn, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	dc := &dns.Conn{Conn: conn, UDPSize: dns.MaxMsgSize}
	if err := dc.WriteMsg(req); err != nil {
		t.Fatal(err)
	}
	b, err := dc.ReadMsgHeader(nil)
	if err != nil {
		t.Fatal(err)
	}
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		t.Fatal(err)
	}
	return m, len(b)
}

// Serve after Shutdown returns at once and closes the sockets it was given.
func TestServeAfterShutdown(t *testing.T) {
	t.Parallel()
	s := NewServer(labZone())
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(nil, ln); err != nil {
		t.Errorf("serve after shutdown: %v", err)
	}
	if _, err := ln.Accept(); err == nil {
		t.Error("listener still open")
	}
}
