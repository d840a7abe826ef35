package workload

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TestProbeResults: a failing probe keeps its own error, as kubelet's
// Unhealthy event quotes it, counts the failures in a row and forgets them
// after a success.
func TestProbeResults(t *testing.T) {
	t.Parallel()
	h := newHTTPTarget()
	defer h.close()
	closed := unephemeralPort(t) // nothing listens there
	tcp := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt(closed)}}}
	p := NewProbe(probePod(tcp, httpProbe(intstr.FromInt(h.port()), "/healthz")), netip.MustParseAddr("127.0.0.1"))
	p.After = func(time.Duration) <-chan time.Time { return time.After(time.Millisecond) }
	failed := make(chan string, 100)
	p.Failed = func(c string, err error) {
		select {
		case failed <- c + ": " + err.Error():
		default:
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.Run(ctx, (&net.Dialer{}).DialContext, func(bool) {}) }()
	defer func() { cancel(); <-done }()

	want := map[string]string{
		"c0": fmt.Sprintf("dial tcp 127.0.0.1:%d: connect: connection refused", closed),
		"c1": "HTTP probe failed with statuscode: 503",
	}
	waitFor(t, func() bool {
		rs := p.Results()
		return rs[0].Failures >= 3 && rs[1].Failures >= 3
	})
	seen := map[string]bool{}
	for len(failed) > 0 {
		seen[<-failed] = true
	}
	for c, msg := range want {
		if !seen[c+": "+msg] {
			t.Errorf("Failed never called with %q: %v", c+": "+msg, seen)
		}
	}
	for _, r := range p.Results() {
		if r.Ready || r.Error != want[r.Container] || r.First.IsZero() || r.Last.Before(r.First) {
			t.Errorf("result %+v, want unready with %q", r, want[r.Container])
		}
	}
	if got := p.Results()[0].Probe; got != fmt.Sprintf("tcp-socket :%d delay=0s timeout=1s period=10s #success=1 #failure=3", closed) {
		t.Errorf("Probe = %q", got)
	}
	h.set(true)
	waitFor(t, func() bool { r := p.Results()[1]; return r.Ready && r.Error == "" && r.Failures == 0 })
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
	}
}

func TestDescribeProbe(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		p    *corev1.Probe
		want string
	}{
		{httpProbe(intstr.FromString("http"), "/healthz"), "http-get http://:http/healthz delay=0s timeout=1s period=10s #success=1 #failure=3"},
		{&corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt(9999)}},
			InitialDelaySeconds: 2, PeriodSeconds: 1, FailureThreshold: 1}, "tcp-socket :9999 delay=2s timeout=1s period=1s #success=1 #failure=1"},
		{&corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"cat", "/tmp/ok"}}}}, "exec [cat /tmp/ok] delay=0s timeout=1s period=10s #success=1 #failure=3"},
	} {
		if got := Describe(tt.p); got != tt.want {
			t.Errorf("got  %q\nwant %q", got, tt.want)
		}
	}
}

// TestHealthzSwitch: a POST makes /healthz fail on every port of the pod,
// as a sick application's would, and another mends it.
func TestHealthzSwitch(t *testing.T) {
	t.Parallel()
	s, err := Start(here, "test", testPod, []Port{{0, TCP}, {0, TCP}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	ports := s.Ports()
	status := func(method string, port uint16, query string) (int, string) {
		req, _ := http.NewRequest(method, fmt.Sprintf("http://127.0.0.1:%d/healthz%s", port, query), nil)
		body, code, _ := get(t, req)
		return code, body
	}
	if code, body := status("GET", ports[1].Port, ""); code != 200 || body != "ok" {
		t.Fatalf("healthy: %d %q", code, body)
	}
	if code, body := status("POST", ports[0].Port, "?status=503"); code != 200 || !strings.Contains(body, "503") {
		t.Fatalf("set: %d %q", code, body)
	}
	if code, body := status("GET", ports[1].Port, ""); code != 503 || !strings.Contains(body, "status=200") {
		t.Errorf("after the POST, the other port answers %d %q", code, body)
	}
	if code, _ := status("POST", ports[0].Port, "?status=42"); code != 400 {
		t.Errorf("status=42 answered %d, want 400", code)
	}
	status("POST", ports[1].Port, "?status=200")
	if code, body := status("GET", ports[0].Port, ""); code != 200 || body != "ok" {
		t.Errorf("mended: %d %q", code, body)
	}
}
