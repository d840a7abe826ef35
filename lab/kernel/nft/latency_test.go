package nft

import (
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"kinn.dev/kinn/lab/kernel"
	"kinn.dev/kinn/lab/proxy"
	"kinn.dev/kinn/lab/service"
)

// BenchmarkFirstPacket times a new TCP connection (SYN to SYN-ACK, so the
// first packet's trip through the NAT chains) from a pod to a ClusterIP,
// with 10 and with 10,000 services loaded. kinn's dispatch is one verdict
// map lookup, so the two should agree within noise.
func BenchmarkFirstPacket(b *testing.B) {
	for _, n := range []int{10, 10000} {
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			f := newFixture(b)
			vip := netip.MustParseAddr("10.97.0.1")
			real := service.Port{Namespace: "bench", Service: "real", Protocol: service.TCP, ClusterIP: vip, Port: 80}
			for _, p := range []string{"p1", "p2", "p3"} {
				real.Endpoints = append(real.Endpoints, service.Endpoint{Namespace: "bench", Pod: p, Node: nodeName,
					IP: netip.MustParseAddr(pods[p]), Port: 8080, Ready: true, Serving: true})
			}
			ports := append(manyPorts(n-1), real)
			if err := f.table.Load(proxy.Build(proxy.Node{Name: nodeName}, ports)); err != nil {
				b.Fatal(err)
			}
			var total time.Duration
			for b.Loop() {
				err := kernel.Do(f.ns("c"), func() error {
					start := time.Now()
					c, err := net.DialTimeout("tcp4", vip.String()+":80", time.Second)
					total += time.Since(start)
					if err == nil {
						c.Close()
					}
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(total.Microseconds())/float64(b.N), "µs/connect")
		})
	}
}
