package probe

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"
)

// here runs f in the test's own namespace: the probe logic on loopback.
func here(_ string, f func() error) error { return f() }

func TestChecksum(t *testing.T) {
	t.Parallel()
	b := echo(0x1234, 1)
	if Checksum(b) != 0 {
		t.Fatalf("a message with its checksum must sum to zero, got %#x", Checksum(b))
	}
}

func TestHTTPAndUDPOnLoopback(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("pod-a")) }))
	uc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	go func() {
		buf := make([]byte, 100)
		n, from, err := uc.ReadFrom(buf)
		if err == nil {
			uc.WriteTo([]byte(strings.ToUpper(string(buf[:n]))), from)
		}
	}()
	p := Prober{Enter: here, Timeout: time.Second}
	if body, err := p.HTTPGet(context.Background(), ln.Addr().String(), "/hostname"); err != nil || body != "pod-a" {
		t.Errorf("HTTP: %q %v", body, err)
	}
	if got, err := p.UDP(context.Background(), uc.LocalAddr().String(), "hostname"); err != nil || got != "HOSTNAME" {
		t.Errorf("UDP: %q %v", got, err)
	}
	// A closed port is refused, not timed out.
	closed, _ := net.Listen("tcp4", "127.0.0.1:0")
	addr := closed.Addr().String()
	closed.Close()
	_, err = p.Dial(context.Background(), "tcp4", addr)
	if Classify(err) != Refused {
		t.Errorf("closed port: %v classified %s", err, Classify(err))
	}
}

func TestPingLoopback(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipping: ICMP raw sockets need root")
	}
	p := Prober{Enter: here, Timeout: time.Second}
	// Loopback only: tests never send traffic onto the host's network.
	got, err := p.Ping([]netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2")})
	if err != nil {
		t.Fatal(err)
	}
	if got[netip.MustParseAddr("127.0.0.1")] != nil || got[netip.MustParseAddr("127.0.0.2")] != nil {
		t.Errorf("loopback did not answer: %v", got)
	}
}
