package workload

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os/exec"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"

	"kinn.dev/kinn/lab/kernel"
	"kinn.dev/kinn/lab/kernel/kerneltest"
)

// TestServerInNamespace proves Start's sockets live in the pod's namespace:
// reachable on 127.0.0.1 from inside it, not from the host's 127.0.0.1.
func TestServerInNamespace(t *testing.T) {
	t.Parallel()
	ns := kerneltest.NewLab(t, "wltest").Netns("pod.x")
	if _, err := kernel.CreateNetns(ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := kernel.DeleteNetns(ns); err != nil {
			t.Errorf("delete %s: %v", ns, err)
		}
	})
	if out, err := exec.Command("ip", "-n", ns, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("lo up: %v: %s", err, out)
	}
	pod := PodInfo{Namespace: "default", Name: "ns-pod", Node: "n1", IP: netip.MustParseAddr("10.244.9.9")}
	s, err := Start(kernel.Do, ns, pod, []Port{{0, TCP}, {0, UDP}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	for _, p := range s.Ports() {
		addr := fmt.Sprintf("127.0.0.1:%d", p.Port)
		var got string
		err := kernel.Do(ns, func() (err error) { got, err = askHostname(p.Protocol, addr); return err })
		if err != nil || got != "ns-pod" {
			t.Errorf("%v inside the namespace: %q, %v", p, got, err)
		}
		if p.Protocol == TCP {
			if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				c.Close()
				t.Errorf("%s answers in the host namespace", addr)
			}
		}
	}
	if st := s.Stats(); len(st.Ports) != 2 || st.Ports[0].Requests != 1 || st.Ports[1].Requests != 1 {
		t.Errorf("stats %+v, want one request per port", st)
	}
}

// askHostname asks a netexec server its hostname over TCP (HTTP) or UDP; it
// creates its socket on the calling thread, so in that thread's namespace.
func askHostname(proto, addr string) (string, error) {
	conn, err := net.DialTimeout(map[string]string{TCP: "tcp", UDP: "udp"}[proto], addr, time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if proto == UDP {
		conn.Write([]byte("hostname"))
		buf := make([]byte, 256)
		n, err := conn.Read(buf)
		return string(buf[:n]), err
	}
	io.WriteString(conn, "GET /hostname HTTP/1.0\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// TestProbeInNamespace probes a server in a namespace through DialIn, as the
// lab probes pods from their node's namespace.
func TestProbeInNamespace(t *testing.T) {
	t.Parallel()
	ns := kerneltest.NewLab(t, "wltest").Netns("pod.x")
	if _, err := kernel.CreateNetns(ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kernel.DeleteNetns(ns) })
	if out, err := exec.Command("ip", "-n", ns, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("lo up: %v: %s", err, out)
	}
	s, err := Start(kernel.Do, ns, PodInfo{Name: "p"}, []Port{{0, TCP}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	p := NewProbe(probePod(httpProbe(intstr.FromInt(int(s.Ports()[0].Port)), "/healthz")), netip.MustParseAddr("127.0.0.1"))
	p.After = func(time.Duration) <-chan time.Time { return time.After(time.Millisecond) }
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ready := make(chan bool, 1)
	go p.Run(ctx, DialIn(kernel.Do, ns), func(r bool) { ready <- r })
	select {
	case r := <-ready:
		if !r {
			t.Error("became unready")
		}
	case <-ctx.Done():
		t.Error("never ready through DialIn")
	}
}
