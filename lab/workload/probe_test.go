package workload

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func probePod(probes ...*corev1.Probe) *corev1.Pod {
	pod := &corev1.Pod{}
	for i, p := range probes {
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{
			Name:           fmt.Sprint("c", i),
			Ports:          []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}, {Name: "dns", ContainerPort: 53, Protocol: "UDP"}},
			ReadinessProbe: p,
		})
	}
	return pod
}

func httpProbe(port intstr.IntOrString, path string) *corev1.Probe {
	return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: port, Path: path}}}
}

func TestNewProbe(t *testing.T) {
	t.Parallel()
	ip := netip.MustParseAddr("10.244.1.5")
	exec := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}
	tests := []struct {
		name    string
		pod     *corev1.Pod
		want    string // "network addr path" per check, or "nil"
		wantErr string
	}{
		{"no probe", probePod(nil), "nil", ""},
		{"exec only", probePod(exec), "nil", ""},
		{"http by number", probePod(httpProbe(intstr.FromInt32(9000), "/ready")), "http 10.244.1.5:9000 /ready", ""},
		{"http by name", probePod(httpProbe(intstr.FromString("http"), "")), "http 10.244.1.5:8080 ", ""},
		{"tcp by name", probePod(&corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("dns")}}}), "tcp 10.244.1.5:53 ", ""},
		{"unknown name", probePod(httpProbe(intstr.FromString("nope"), "")), "http 10.244.1.5:0 ", `no port named "nope"`},
		{"https", probePod(&corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromInt32(443), Scheme: "HTTPS"}}}), "http 10.244.1.5:443 ", "HTTPS is not supported"},
		{"two containers", probePod(nil, httpProbe(intstr.FromInt32(1), "/a"), exec), "http 10.244.1.5:1 /a", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := NewProbe(tt.pod, ip)
			got := "nil"
			var err error
			if p != nil {
				var parts []string
				for _, c := range p.checks {
					parts = append(parts, c.network+" "+c.addr+" "+c.path)
					err = c.err
				}
				got = strings.Join(parts, ",")
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestProbeDefaults(t *testing.T) {
	t.Parallel()
	c := NewProbe(probePod(httpProbe(intstr.FromInt32(1), "")), netip.MustParseAddr("10.0.0.1")).checks[0]
	if c.initialDelay != 0 || c.period != 10*time.Second || c.timeout != time.Second ||
		c.prober.successThreshold != 1 || c.prober.failureThreshold != 3 {
		t.Errorf("defaults: %+v %+v", c, c.prober)
	}
}

// manualClock hands each timer to the test, which fires it when ready.
type manualClock struct{ timers chan timer }

type timer struct {
	d    time.Duration
	fire chan time.Time
}

func (c manualClock) After(d time.Duration) <-chan time.Time {
	t := timer{d, make(chan time.Time, 1)}
	c.timers <- t
	return t.fire
}

// switchable is a probe target the test turns on and off: an HTTP server
// answering /healthz 200 or 503, or a TCP port open or closed.
type switchable interface {
	port() int
	set(up bool)
	close()
}

type httpTarget struct {
	srv *httptest.Server
	up  atomic.Bool
}

func newHTTPTarget() switchable {
	h := &httpTarget{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" || !h.up.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
		}
	}))
	return h
}

func (h *httpTarget) port() int   { return h.srv.Listener.Addr().(*net.TCPAddr).Port }
func (h *httpTarget) set(up bool) { h.up.Store(up) }
func (h *httpTarget) close()      { h.srv.Close() }

type tcpTarget struct {
	t  *testing.T
	p  int
	ln net.Listener
}

func newTCPTarget(t *testing.T) switchable {
	return &tcpTarget{t: t, p: unephemeralPort(t)}
}

// unephemeralPort finds a free port below the kernel's ephemeral range, so
// no client socket takes it while the target is down.
func unephemeralPort(t *testing.T) int {
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		fmt.Sscan(string(b), &low)
	}
	for p := low - 1 - rand.IntN(low/2); p > 1024; p-- {
		if ln, err := net.Listen("tcp4", "127.0.0.1:"+strconv.Itoa(p)); err == nil {
			ln.Close()
			return p
		}
	}
	t.Fatal("no free port below the ephemeral range")
	return 0
}

func (c *tcpTarget) port() int { return c.p }
func (c *tcpTarget) close()    { c.set(false) }
func (c *tcpTarget) set(up bool) {
	if !up {
		if c.ln != nil {
			c.ln.Close()
			c.ln = nil
		}
		return
	}
	if c.ln != nil {
		return
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:"+strconv.Itoa(c.p))
	if err != nil {
		c.t.Fatal(err)
	}
	c.ln = ln
}

// TestProbeRun drives the runner against real loopback targets whose health
// the test flips, on a clock the test controls.
func TestProbeRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		target func(t *testing.T) switchable
		probe  func(port int) *corev1.Probe
	}{
		{"httpGet", func(*testing.T) switchable { return newHTTPTarget() },
			func(port int) *corev1.Probe { return httpProbe(intstr.FromInt(port), "healthz") }},
		{"tcpSocket", newTCPTarget, func(port int) *corev1.Probe {
			return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt(port)}}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			target := tt.target(t)
			defer target.close()
			rp := tt.probe(target.port())
			rp.InitialDelaySeconds, rp.PeriodSeconds, rp.FailureThreshold = 5, 7, 2
			p := NewProbe(probePod(rp), netip.MustParseAddr("127.0.0.1"))
			clock := manualClock{make(chan timer)}
			p.After = clock.After

			ctx, cancel := context.WithCancel(context.Background())
			changes := make(chan bool, 10)
			done := make(chan struct{})
			go func() {
				defer close(done)
				p.Run(ctx, (&net.Dialer{}).DialContext, func(r bool) { changes <- r })
			}()
			defer func() { cancel(); <-done }()

			next := <-clock.timers
			if next.d != 5*time.Second {
				t.Errorf("first wait %v, want the initial delay", next.d)
			}
			// probe lets one probe run against a target up or down, and
			// returns the changes it reported.
			probe := func(up bool) string {
				target.set(up)
				next.fire <- time.Time{}
				next = <-clock.timers // the loop is waiting again: the probe is done
				if next.d != 7*time.Second {
					t.Errorf("wait %v, want the period", next.d)
				}
				var got []string
				for len(changes) > 0 {
					got = append(got, strconv.FormatBool(<-changes))
				}
				return strings.Join(got, ",")
			}
			steps := []struct {
				up   bool
				want string
			}{{false, ""}, {true, "true"}, {true, ""}, {false, ""}, {false, "false"}, {true, "true"}}
			for i, s := range steps {
				if got := probe(s.up); got != s.want {
					t.Errorf("step %d (up %v): changes %q, want %q", i, s.up, got, s.want)
				}
			}
			if !p.Ready() {
				t.Error("Ready() = false at the end")
			}
		})
	}
}

// TestProbeRunAllContainers: the pod is ready only when every probed
// container is.
func TestProbeRunAllContainers(t *testing.T) {
	t.Parallel()
	a, b := newHTTPTarget(), newHTTPTarget()
	defer a.close()
	defer b.close()
	p := NewProbe(probePod(httpProbe(intstr.FromInt(a.port()), "/healthz"), httpProbe(intstr.FromInt(b.port()), "/healthz")), netip.MustParseAddr("127.0.0.1"))
	p.After = func(time.Duration) <-chan time.Time { return time.After(time.Millisecond) }
	a.set(true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	changes := make(chan bool, 10)
	go p.Run(ctx, (&net.Dialer{}).DialContext, func(r bool) { changes <- r && p.Ready() })
	select {
	case r := <-changes:
		t.Fatalf("changed to %v with one container unready", r)
	case <-time.After(100 * time.Millisecond):
	}
	b.set(true)
	select {
	case r := <-changes:
		if !r {
			t.Fatal("changed to unready")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("never ready")
	}
}
