package workload

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"
)

// here enters no namespace: unit tests serve on the test's own loopback.
func here(_ string, f func() error) error { return f() }

var testPod = PodInfo{Namespace: "default", Name: "web-0", Node: "kind-worker", IP: netip.MustParseAddr("10.244.1.5")}

// startTest serves one kernel-chosen TCP and one UDP port, and returns the
// loopback addresses to reach them.
func startTest(t *testing.T) (s *Server, tcp, udp string) {
	t.Helper()
	s, err := Start(here, "test", testPod, []Port{{0, TCP}, {0, UDP}, {0, SCTP}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	for _, p := range s.Ports() {
		addr := fmt.Sprintf("127.0.0.1:%d", p.Port)
		if p.Protocol == TCP {
			tcp = addr
		} else {
			udp = addr
		}
	}
	return s, tcp, udp
}

// get fetches path and also returns the client's own address as it dialled.
func get(t *testing.T, req *http.Request) (body string, status int, local string) {
	t.Helper()
	tr := &http.Transport{DisableKeepAlives: true, DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil {
			local = c.LocalAddr().String()
		}
		return c, err
	}}
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), resp.StatusCode, local
}

func TestHTTP(t *testing.T) {
	t.Parallel()
	_, addr, _ := startTest(t)
	big := strings.Repeat("0123456789abcdef", 4096) // 64 KiB
	form := url.Values{"msg": {big}}.Encode()
	tests := []struct {
		name, method, path, ctype, body string
		wantStatus                      int
		want                            string // "" with clientIP: the caller's address
		clientIP                        bool
	}{
		{name: "hostname", path: "/hostname", want: "web-0"},
		{name: "clientip", path: "/clientip", clientIP: true},
		{name: "echo", path: "/echo?msg=hello%20world", want: "hello world"},
		{name: "echo empty", path: "/echo", want: ""},
		{name: "echo 64KiB", path: "/echo?msg=" + big, want: big},
		{name: "echo POST form", method: "POST", path: "/echo", ctype: "application/x-www-form-urlencoded", body: form, want: big},
		{name: "echo POST raw", method: "POST", path: "/echo", ctype: "text/plain", body: big, want: big},
		{name: "healthz", path: "/healthz", want: "ok"},
		{name: "shell refused", path: "/shell?cmd=id", wantStatus: http.StatusForbidden, want: "kinn: /shell is disabled\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(cmpOr(tt.method, "GET"), "http://"+addr+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.ctype != "" {
				req.Header.Set("Content-Type", tt.ctype)
			}
			body, status, local := get(t, req)
			if want := cmpOr(tt.wantStatus, 200); status != want {
				t.Errorf("status %d, want %d", status, want)
			}
			want := tt.want
			if tt.clientIP {
				want = local
			}
			if body != want {
				t.Errorf("body %.80q (%d bytes), want %.80q (%d bytes)", body, len(body), want, len(want))
			}
		})
	}
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func TestHTTPDescribe(t *testing.T) {
	t.Parallel()
	_, addr, _ := startTest(t)
	req, _ := http.NewRequest("GET", "http://"+addr+"/some/where?x=1", nil)
	body, status, local := get(t, req)
	if status != 200 {
		t.Fatalf("status %d", status)
	}
	var got Description
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("%v in %s", err, body)
	}
	want := Description{Pod: "web-0", Namespace: "default", Node: "kind-worker", PodIP: "10.244.1.5",
		Client: local, Request: "GET /some/where?x=1 HTTP/1.1"}
	if got != want {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

func TestUDP(t *testing.T) {
	t.Parallel()
	_, _, addr := startTest(t)
	big := strings.Repeat("x", 2000) // the e2e tests' 2,000-byte echo
	tests := []struct{ name, send, want string }{
		{"hostname", "hostname", "web-0"},
		{"hostname newline", "hostname\n", "web-0"},
		{"clientip", "clientip", ""},
		{"echo", "echo Hello There", "Hello There"},
		{"echo 2000 bytes", "echo " + big, big},
		{"echo nothing", "echo", ""},
		{"unknown", "dial", `error: unknown command "dial"; want hostname, clientip or echo <text>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			conn, err := net.Dial("udp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := conn.Write([]byte(tt.send)); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 64<<10)
			n, err := conn.Read(buf)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want
			if tt.name == "clientip" {
				want = conn.LocalAddr().String()
			}
			if got := string(buf[:n]); got != want {
				t.Errorf("got %.80q, want %.80q", got, want)
			}
		})
	}
}

func TestStats(t *testing.T) {
	t.Parallel()
	s, tcp, udp := startTest(t)
	for range 3 {
		req, _ := http.NewRequest("GET", "http://"+tcp+"/hostname", nil)
		get(t, req)
	}
	conn, err := net.Dial("udp", udp)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	conn.Write([]byte("hostname"))
	conn.Read(make([]byte, 100))
	st := s.Stats()
	if len(st.Ports) != 2 {
		t.Fatalf("stats for %d ports, want 2 (SCTP skipped): %+v", len(st.Ports), st)
	}
	for _, ps := range st.Ports {
		want := map[string]uint64{TCP: 3, UDP: 1}[ps.Port.Protocol]
		if ps.Requests != want || ps.Port.Port == 0 {
			t.Errorf("%v: %d requests, want %d", ps.Port, ps.Requests, want)
		}
	}
}

func TestStopClosesPorts(t *testing.T) {
	t.Parallel()
	s, tcp, _ := startTest(t)
	s.Stop()
	s.Stop() // idempotent
	if c, err := net.DialTimeout("tcp", tcp, time.Second); err == nil {
		c.Close()
		t.Errorf("%s still accepts after Stop", tcp)
	}
}

func TestStartFailsWhole(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	busy := uint16(ln.Addr().(*net.TCPAddr).Port)
	if _, err := Start(here, "test", testPod, []Port{{0, UDP}, {busy, TCP}}); err == nil {
		t.Fatal("Start on a busy port succeeded")
	}
	enterErr := fmt.Errorf("no such namespace")
	_, err = Start(func(string, func() error) error { return enterErr }, "gone", testPod, []Port{{0, TCP}})
	if err == nil || !strings.Contains(err.Error(), "gone") {
		t.Errorf("err = %v, want it to name the namespace", err)
	}
}
