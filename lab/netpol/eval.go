package netpol

import (
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// A Direction is ingress or egress.
type Direction uint8

const (
	Ingress Direction = iota
	Egress
)

func (d Direction) String() string {
	if d == Ingress {
		return "ingress"
	}
	return "egress"
}

// An Endpoint is one end of a flow: a pod, a node's own address (Node set),
// or any other address.
type Endpoint struct {
	Pod  *Pod
	Addr netip.Addr
	Node string
}

// PodEndpoint is pod as an end of a flow.
func PodEndpoint(p *Pod) Endpoint { return Endpoint{Pod: p, Addr: p.IP} }

// NodeEndpoint is a node's own address: traffic from it to the node's own
// pods is never judged.
func NodeEndpoint(node string, a netip.Addr) Endpoint { return Endpoint{Addr: a, Node: node} }

// AddrEndpoint is an address that is no pod and no node of the flow's pods,
// such as a client outside the cluster.
func AddrEndpoint(a netip.Addr) Endpoint { return Endpoint{Addr: a} }

// String is what tables and explanations call the endpoint.
func (e Endpoint) String() string {
	switch {
	case e.Pod != nil:
		return e.Pod.String()
	case e.Node != "":
		return "node/" + e.Node
	}
	return e.Addr.String()
}

// A Flow is a connection's first packet after Service DNAT: Dst is the pod
// (or address) the packet goes to, never a ClusterIP.
type Flow struct {
	Src, Dst Endpoint
	Protocol corev1.Protocol
	Port     int32
}

// A RuleRef names one rule: "x/allow-b ingress rule 0".
type RuleRef struct {
	Policy    *Policy
	Direction Direction
	Index     int
}

func (r RuleRef) Rule() Rule { return r.Policy.Rules(r.Direction)[r.Index] }

// A Judgement is one direction's answer: for egress about the source pod,
// for ingress about the destination pod.
type Judgement struct {
	Direction Direction
	Pod       *Pod      // the pod judged; nil when that end is not a pod
	Exempt    string    // why the direction was not judged at all
	Isolating []*Policy // policies selecting Pod for Direction, in order
	By        *RuleRef  // the first rule allowing the flow
	Allowed   bool
}

// Isolated says whether some policy restricts this direction.
func (j Judgement) Isolated() bool { return len(j.Isolating) > 0 }

// A Verdict is both directions and the outcome: allowed only when both are.
type Verdict struct {
	Flow            Flow
	Egress, Ingress Judgement
	Allowed         bool
}

const (
	exemptNotPod  = "not a pod"
	exemptOwnNode = "from the pod's own node"
	exemptOwnIP   = "to the pod's own address"
)

// Evaluate judges f.
func (c *Cluster) Evaluate(f Flow) Verdict {
	v := Verdict{Flow: f}
	switch {
	case f.Dst.Pod != nil && f.Src.Pod == f.Dst.Pod:
		v.Egress = exempt(Egress, f.Src.Pod, exemptOwnIP)
		v.Ingress = exempt(Ingress, f.Dst.Pod, exemptOwnIP)
	default:
		v.Egress = c.judge(Egress, f.Src.Pod, f.Dst, f)
		if f.Dst.Pod != nil && f.Src.Node != "" && f.Src.Node == f.Dst.Pod.Node {
			v.Ingress = exempt(Ingress, f.Dst.Pod, exemptOwnNode)
		} else {
			v.Ingress = c.judge(Ingress, f.Dst.Pod, f.Src, f)
		}
	}
	v.Allowed = v.Egress.Allowed && v.Ingress.Allowed
	return v
}

func exempt(dir Direction, pod *Pod, why string) Judgement {
	return Judgement{Direction: dir, Pod: pod, Exempt: why, Allowed: true}
}

// judge decides dir for pod, peer being the other end of the flow.
func (c *Cluster) judge(dir Direction, pod *Pod, peer Endpoint, f Flow) Judgement {
	if pod == nil {
		return exempt(dir, nil, exemptNotPod)
	}
	j := Judgement{Direction: dir, Pod: pod}
	for _, p := range c.policies {
		if !p.Isolates(dir) || !p.Selects(pod) {
			continue
		}
		j.Isolating = append(j.Isolating, p)
		if j.By != nil {
			continue
		}
		for i, r := range p.Rules(dir) {
			if c.ruleAllows(p, r, peer, f) {
				j.By = &RuleRef{Policy: p, Direction: dir, Index: i}
				break
			}
		}
	}
	j.Allowed = !j.Isolated() || j.By != nil
	return j
}

func (c *Cluster) ruleAllows(p *Policy, r Rule, peer Endpoint, f Flow) bool {
	if !portsMatch(r.Ports, f) {
		return false
	}
	if r.Peers == nil {
		return true
	}
	for _, pr := range r.Peers {
		if c.peerMatches(p, pr, peer) {
			return true
		}
	}
	return false
}

// portsMatch: a named port is looked up on the destination pod, whatever the
// direction, so a flow to a non-pod never matches one.
func portsMatch(ports []Port, f Flow) bool {
	if ports == nil {
		return true
	}
	for _, p := range ports {
		if p.Protocol != f.Protocol {
			continue
		}
		switch {
		case p.Any:
			return true
		case p.Name != "":
			if f.Dst.Pod == nil {
				continue
			}
			if n, ok := f.Dst.Pod.namedPort(p.Name, p.Protocol); ok && n == f.Port {
				return true
			}
		case p.Number <= f.Port && f.Port <= p.End:
			return true
		}
	}
	return false
}

// peerMatches: an ipBlock matches any address, pods' included; selectors
// match pods only. A lone podSelector means the policy's own namespace.
func (c *Cluster) peerMatches(p *Policy, peer Peer, e Endpoint) bool {
	if peer.Block != nil {
		return e.Addr.IsValid() && peer.Block.Contains(e.Addr)
	}
	if e.Pod == nil {
		return false
	}
	if peer.Namespaces == nil {
		if e.Pod.Namespace != p.Namespace {
			return false
		}
	} else if !peer.Namespaces.Matches(c.namespaceLabels(e.Pod.Namespace)) {
		return false
	}
	return peer.Pods == nil || peer.Pods.Matches(labels.Set(e.Pod.Labels))
}
