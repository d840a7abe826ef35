package check

// The summary comes before the rows: on a broken lab the rows run into
// the hundreds, and what a reader needs first is where it breaks. Cells
// are counted by the pair of nodes the traffic crosses (a broken route or
// FDB entry shows as one failing pair) and by kind of cell (a broken
// service proxy shows as failing ClusterIP cells on every pair).

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"kinn.dev/kinn/lab/service"
)

// Kind is what a cell tries.
type Kind string

const (
	KindSandbox      Kind = "pod sandbox" // a pod that should be running
	KindICMP         Kind = "ICMP pod→pod"
	KindNodePort     Kind = "NodePort"
	KindLoadBalancer Kind = "LoadBalancer"
	KindDNS          Kind = "Service by DNS name"
)

// clusterIPKind is a ClusterIP cell's kind: its protocol's.
func clusterIPKind(p service.Protocol) Kind { return Kind(string(p) + " ClusterIP") }

// kindOrder is the order kinds are summed up in, from the pod's own
// network outwards.
var kindOrder = []Kind{KindSandbox, KindICMP, clusterIPKind(service.TCP), clusterIPKind(service.UDP), KindNodePort, KindLoadBalancer, KindDNS}

// NoEndpoints is a Service cell's destination when no endpoint would take
// its traffic (an expected refusal or drop).
const NoEndpoints = "(no endpoints)"

// nodeOf is where a host's traffic leaves from: its node, or "external".
func nodeOf(h Host) string { return cmp.Or(h.Node, h.Name) }

// clusterNodes is where a pod on node reaches a Service's ClusterIP: its
// endpoints' nodes, only the local ones with internalTrafficPolicy Local.
func clusterNodes(p service.Port, node string) string {
	if p.InternalLocal {
		return endpointNodes(p.Endpoints, node)
	}
	return endpointNodes(p.Endpoints, "")
}

// endpointNodes are the nodes of the endpoints kube-proxy would use,
// sorted and joined with ",".
func endpointNodes(eps []service.Endpoint, node string) string {
	var nodes []string
	for _, e := range service.Usable(eps, node) {
		nodes = append(nodes, e.Node)
	}
	if len(nodes) == 0 {
		return NoEndpoints
	}
	slices.Sort(nodes)
	return strings.Join(slices.Compact(nodes), ",")
}

// Tally counts cells: those that passed (expected failures among them)
// and those that failed.
type Tally struct {
	Passed, Failed, ExpectedFailures int
}

func (t *Tally) add(c Cell) {
	switch {
	case !c.Passed:
		t.Failed++
	case c.Expect != Pass:
		t.Passed++
		t.ExpectedFailures++
	default:
		t.Passed++
	}
}

func (t Tally) String() string {
	ok := strconv.Itoa(t.Passed) + " ok"
	if t.ExpectedFailures > 0 {
		ok += " (" + strconv.Itoa(t.ExpectedFailures) + " expected failures)"
	}
	return ok + ", " + strconv.Itoa(t.Failed) + " failed"
}

// PairTally counts the cells from one node to another.
type PairTally struct {
	From, To string
	Tally
}

// KindTally counts the cells of one kind.
type KindTally struct {
	Kind Kind
	Tally
}

// Summary counts a run's cells.
type Summary struct {
	Total, Passed, Failed, ExpectedFailures int
	NotRunning                              int         // pods that should be running and are not (failed too)
	ByNodes                                 []PairTally // by source node, then destination
	ByKind                                  []KindTally // in kindOrder, then any other by name
}

// Summarize counts cells.
func Summarize(cells []Cell) Summary {
	var s Summary
	pairs := map[[2]string]*Tally{}
	kinds := map[Kind]*Tally{}
	for _, c := range cells {
		s.Total++
		if c.Passed {
			s.Passed++
			if c.Expect != Pass {
				s.ExpectedFailures++
			}
		} else {
			s.Failed++
		}
		if c.Proto == ProtoSandbox {
			s.NotRunning++
		}
		tally(pairs, [2]string{c.FromNode, c.ToNode}).add(c)
		tally(kinds, c.Kind).add(c)
	}
	for k, t := range pairs {
		s.ByNodes = append(s.ByNodes, PairTally{From: k[0], To: k[1], Tally: *t})
	}
	slices.SortFunc(s.ByNodes, func(a, b PairTally) int { return cmp.Or(cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To)) })
	for k, t := range kinds {
		s.ByKind = append(s.ByKind, KindTally{Kind: k, Tally: *t})
	}
	slices.SortFunc(s.ByKind, func(a, b KindTally) int {
		return cmp.Or(cmp.Compare(kindRank(a.Kind), kindRank(b.Kind)), cmp.Compare(a.Kind, b.Kind))
	})
	return s
}

func tally[K comparable](m map[K]*Tally, k K) *Tally {
	if m[k] == nil {
		m[k] = &Tally{}
	}
	return m[k]
}

// kindRank places a kind in kindOrder; kinds it does not list come last.
func kindRank(k Kind) int {
	if i := slices.Index(kindOrder, k); i >= 0 {
		return i
	}
	return len(kindOrder)
}

func (s Summary) String() string {
	out := strconv.Itoa(s.Total) + " checks: " + strconv.Itoa(s.Passed) + " passed (" +
		strconv.Itoa(s.ExpectedFailures) + " of them expected failures), " + strconv.Itoa(s.Failed) + " failed"
	if s.NotRunning > 0 {
		out += " (pods not running: " + strconv.Itoa(s.NotRunning) + ")"
	}
	return out
}
