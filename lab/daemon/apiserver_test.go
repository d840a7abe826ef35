package daemon

import (
	"bytes"
	"log"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"kinn.dev/kinn/topology"
)

// TestAPIServerQuietOnPlainConnects: a plain TCP connect and a plain HTTP
// request (what `kinn check` sends to every Service port) leave nothing in
// the lab process's log, while a handshake that really goes wrong still
// does. On loopback, in the test's own namespace.
func TestAPIServerQuietOnPlainConnects(t *testing.T) {
	lab, _, err := topology.Default()
	if err != nil {
		t.Fatal(err)
	}
	cert, err := selfSigned(lab)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	out := log.Writer()
	log.SetOutput(&buf)
	t.Cleanup(func() { log.SetOutput(out) })
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newAPIServer(cert)
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	addr := ln.Addr().String()

	c, err := net.Dial("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if resp, err := http.Get("http://" + addr + "/hostname"); err == nil {
		resp.Body.Close()
	}
	// Not TLS at all, and not HTTP: a real error, which stays visible.
	c, err = net.Dial("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("\x01\x02\x03 not tls at all\r\n\r\n"))
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	c.Read(make([]byte, 64))
	c.Close()

	deadline := time.Now().Add(2 * time.Second)
	for !strings.Contains(buf.String(), "first record does not look like a TLS handshake") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	logged := buf.String()
	if !strings.Contains(logged, "first record does not look like a TLS handshake") {
		t.Errorf("a real handshake error is not logged:\n%s", logged)
	}
	if n := strings.Count(logged, "TLS handshake error"); n != 1 {
		t.Errorf("%d handshake errors logged, want only the real one:\n%s", n, logged)
	}
}
