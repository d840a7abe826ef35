package netpoltest

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"kinn.dev/kinn/lab/netpol"
)

// Upstream's ginkgo contexts, the first part of every case's name.
const (
	ContextTCP = "NetworkPolicy between server and client"
	ContextUDP = "NetworkPolicy between server and client using UDP"
)

// A Case is one upstream It: steps run in order on the same world.
type Case struct {
	Context, It string
	Steps       []Step
}

// A Step is the state after one upstream change (a policy created, updated
// or deleted, a label added) and the probes upstream runs then.
type Step struct {
	// Policies is every policy in force at this step, not only the new one.
	Policies []*networkingv1.NetworkPolicy
	// PodLabels and NamespaceLabels are labels added to "x/a" or "y".
	PodLabels       map[string]map[string]string
	NamespaceLabels map[string]map[string]string
	Probes          []Probe
}

// A Probe is upstream's ValidateOrFail: one port and protocol, and the
// Expect calls made on a table that starts all allowed.
type Probe struct {
	Protocol corev1.Protocol
	Port     int32
	Expect   []Expectation
}

// An Expectation is one of upstream's Expect calls, as ExpectPeer: From
// and To are "" (any pod), a namespace "x" or a pod "x/a".
// ExpectAllIngress(x/a) is {"", "x/a"}, ExpectAllEgress(x/a) {"x/a", ""}.
type Expectation struct {
	From, To string
	Allowed  bool
}

// matches is upstream's Peer.Matches.
func matches(peer, pod string) bool {
	ns, name, _ := strings.Cut(pod, "/")
	pns, pname, _ := strings.Cut(peer, "/")
	return (pns == "" || pns == ns) && (pname == "" || pname == name)
}

// Expected is the table upstream expects for pods (as "x/a"), the Expect
// calls applied in order over an all-allowed table.
func (p Probe) Expected(pods []string) *netpol.TruthTable {
	t := netpol.NewTruthTable(pods, pods)
	for i := range pods {
		for j := range pods {
			t.Cells[i][j] = netpol.Allowed
		}
	}
	for _, e := range p.Expect {
		for i, from := range pods {
			for j, to := range pods {
				if matches(e.From, from) && matches(e.To, to) {
					t.Cells[i][j] = netpol.CellOf(e.Allowed)
				}
			}
		}
	}
	return t
}
