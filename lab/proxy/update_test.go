package proxy

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"kinn.dev/kinn/lab/service"
)

func somePorts(n int) []service.Port {
	var ports []service.Port
	for i := range n {
		p := service.Port{Namespace: "ns", Service: fmt.Sprintf("s%d", i), Protocol: service.TCP,
			ClusterIP: netip.AddrFrom4([4]byte{10, 96, 0, byte(i + 1)}), Port: 80}
		if i%3 == 0 {
			p.NodePort = uint16(30000 + i)
		}
		for e := range 3 {
			p.Endpoints = append(p.Endpoints, service.Endpoint{Namespace: "ns", Pod: fmt.Sprintf("p%d-%d", i, e), Node: fmt.Sprintf("n%d", e),
				IP: netip.AddrFrom4([4]byte{10, 244, byte(e), byte(i + 1)}), Port: 8080, Ready: true, Serving: true})
		}
		ports = append(ports, p)
	}
	return ports
}

// withHTTPS gives every other service a second port, 443, on the same
// ClusterIP: the ports share the cluster-ips element.
func withHTTPS(ports []service.Port) []service.Port {
	for i, p := range slices.Clone(ports) {
		if i%2 == 0 {
			p.Port, p.Name, p.Endpoints = 443, "https", slices.Clone(p.Endpoints)
			ports = append(ports, p)
		}
	}
	return ports
}

// TestChangesMatchFullDiff: for random edits (endpoints flip readiness,
// services and some of their ports come and go, policies change), the ops
// computed over the changed ports only are the ops of a full diff.
func TestChangesMatchFullDiff(t *testing.T) {
	t.Parallel()
	node := Node{Name: "n1", PodCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.0.0/16")},
		ServiceCIDRs: []netip.Prefix{netip.MustParsePrefix("10.96.0.0/16")}}
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 300 {
		old := withHTTPS(somePorts(12))
		next := slices.Clone(old)
		for i := range next {
			next[i].Endpoints = slices.Clone(next[i].Endpoints)
		}
		switch round % 6 {
		case 0:
			p := &next[r.IntN(len(next))]
			p.Endpoints[r.IntN(3)].Ready = false
		case 1:
			next = slices.Delete(next, 3, 4)
		case 2:
			next[r.IntN(len(next))].ExternalLocal = true
			next[r.IntN(len(next))].Affinity = 60e9
		case 3:
			next = append(next, somePorts(14)[13])
		case 4: // one port of a two-port Service goes
			i := 12 + r.IntN(6)
			next = slices.Delete(next, i, i+1)
		case 5: // the other one
			i := 2 * r.IntN(6)
			next = slices.Delete(next, i, i+1)
		}
		full := Diff(Build(node, old), Build(node, next))
		inc := Changes(node, old, next)
		if opsText(full) != opsText(inc) {
			t.Fatalf("round %d: incremental ops differ from the full diff:\n%v\n%v", round, inc, full)
		}
	}
	if len(Diff(Build(node, somePorts(12)), Build(node, slices.Delete(somePorts(12), 3, 4)))) == 0 {
		t.Fatal("the comparison is vacuous: a removed service gives no ops")
	}
	if ops := Changes(node, somePorts(5), somePorts(5)); ops != nil {
		t.Errorf("no change must give no ops, got %v", ops)
	}
}

// opsText spells ops out in full: rules and elements, not just counts.
func opsText(ops []Op) string {
	var sb strings.Builder
	for _, o := range ops {
		sb.WriteString(o.Kind.String())
		if o.Chain != nil {
			sb.WriteString(" chain " + o.Chain.Name)
			for _, r := range o.Chain.Rules {
				sb.WriteString("\n  " + r.String())
			}
		}
		if o.Map != nil {
			sb.WriteString(" map " + o.Map.Name)
			for _, e := range o.Map.Elems {
				fmt.Fprintf(&sb, "\n  %s : %v", e.Key.String(o.Map.Key), e.Verdict)
			}
		}
		sb.WriteString("\n")
	}
	return sb.String()
}
