package dns

import (
	"context"
	"fmt"
	"net"
	"testing"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"kinn.dev/kinn/lab/service"
)

// bigLab is n Services, each selecting 3 of 3n pods.
func bigLab(n int) ([]*corev1.Service, []service.PodState) {
	var svcs []*corev1.Service
	var pods []service.PodState
	for i := range n {
		app := fmt.Sprintf("app%d", i)
		svcs = append(svcs, newSvc("default", app, fmt.Sprintf("10.96.%d.%d", i/250, i%250+1), selecting(app),
			ports(svcPort("http", "TCP", 80, intstr.FromInt32(8080)))))
		for j := range 3 {
			k := 3*i + j
			pods = append(pods, newPod("default", fmt.Sprintf("%s-%d", app, j), app, fmt.Sprintf("10.244.%d.%d", k/250, k%250+2)))
		}
	}
	return svcs, pods
}

// BenchmarkNewZone: what the lab process pays on every endpoint change to
// have the DNS answer from the new state (`go test -bench . ./lab/dns`).
func BenchmarkNewZone(b *testing.B) {
	for _, n := range []int{100, 1000} {
		svcs, pods := bigLab(n)
		b.Run(fmt.Sprintf("services=%d/pods=%d", n, 3*n), func(b *testing.B) {
			for b.Loop() {
				NewZone("", svcs, pods, nil)
			}
		})
	}
}

// BenchmarkQueryUDP: one A query answered over UDP on loopback, 1,000
// Services loaded.
func BenchmarkQueryUDP(b *testing.B) {
	svcs, pods := bigLab(1000)
	srv := NewServer(NewZone("", svcs, pods, nil))
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(pc, nil)
	defer srv.Shutdown(context.Background())
	c := &dns.Client{Net: "udp"}
	q := new(dns.Msg)
	q.SetQuestion("app500.default.svc.cluster.local.", dns.TypeA)
	for b.Loop() {
		r, _, err := c.Exchange(q, pc.LocalAddr().String())
		if err != nil || len(r.Answer) != 1 {
			b.Fatalf("%v %v", r, err)
		}
	}
}
