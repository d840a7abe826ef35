package trace

import (
	"fmt"
	"net/netip"

	"kinn.dev/kinn/lab/proxy"
	"kinn.dev/kinn/lab/service"
)

// Owner is the Kubernetes object a rule or a place belongs to.
type Owner struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

func (o *Owner) String() string {
	if o == nil {
		return ""
	}
	if o.Namespace == "" {
		return o.Kind + " " + o.Name
	}
	return o.Kind + " " + o.Namespace + "/" + o.Name
}

// RuleKey names a rule in one namespace's kinn table as trace events do.
type RuleKey struct {
	Chain  string
	Handle uint64
}

// RuleInfo is what a rule the kernel traced is, in kinn's terms.
type RuleInfo struct {
	Chain  string
	Index  int // its position in the chain
	Rule   proxy.Rule
	Owner  *Owner
	Detail string // what the owner part means: "endpoint 10.244.1.3:8080 of Service default/web"
	// Meaning is what the chain is for (proxy.MeaningOf), for a node's
	// table; the switch's load balancer reuses some names for other ends.
	Meaning string
	// Picks is how many endpoints the rule's chain chooses
	// among when the rule is one of its choices; 0 otherwise. Affinity
	// says the choice is the client's earlier one (sessionAffinity).
	Picks    int
	Affinity bool
}

// MapRules maps the kernel's rule handles (per chain, in the chain's order)
// to the rules kinn built for that table, by position: kinn writes each
// chain's rules in the order Build gives them, so the n-th handle is the
// n-th rule. A chain whose length differs (someone edited the table) is
// left out rather than guessed at. node says the ruleset is a node's
// service proxy, whose chains have their documented meanings.
func MapRules(rs *proxy.Ruleset, handles map[string][]uint64, owners map[string]ChainOwner, node bool) map[RuleKey]RuleInfo {
	out := map[RuleKey]RuleInfo{}
	for _, c := range rs.Chains {
		hs := handles[c.Name]
		if len(hs) != len(c.Rules) {
			continue
		}
		picks := choices(c.Rules, owners)
		for i, h := range hs {
			ri := RuleInfo{Chain: c.Name, Index: i, Rule: c.Rules[i]}
			if isChoice(c.Rules[i], owners) {
				ri.Picks, ri.Affinity = picks, hasExpr[proxy.SaddrIn](c.Rules[i])
			}
			if m, ok := proxy.MeaningOf(c.Name); ok && node {
				ri.Meaning = m.Short
			}
			if o, ok := owners[c.Name]; ok {
				ri.Owner, ri.Detail = o.Owner, o.Detail
			}
			out[RuleKey{c.Name, h}] = ri
		}
	}
	return out
}

// choices counts the endpoints a chain picks among: the size of
// its random map, or its rules that send to one of them, those of session
// affinity (a client's earlier pick) aside.
func choices(rules []proxy.Rule, owners map[string]ChainOwner) int {
	n := 0
	for _, r := range rules {
		for _, e := range r.Exprs {
			if v, ok := e.(proxy.Vmap); ok && v.Key == proxy.KeyIndex {
				return int(v.Mod)
			}
		}
		if isChoice(r, owners) && !hasExpr[proxy.SaddrIn](r) {
			n++
		}
	}
	return n
}

// isChoice: the rule sends to one endpoint's chain, by a random draw, a map
// or affinity.
func isChoice(r proxy.Rule, owners map[string]ChainOwner) bool {
	for _, e := range r.Exprs {
		switch e := e.(type) {
		case proxy.Vmap:
			return e.Key == proxy.KeyIndex
		case proxy.Verdict:
			o, ok := owners[e.Chain]
			return ok && o.Owner != o.Service
		}
	}
	return false
}

func hasExpr[T proxy.Expr](r proxy.Rule) bool {
	for _, e := range r.Exprs {
		if _, ok := e.(T); ok {
			return true
		}
	}
	return false
}

// ChainOwner is the object a per-Service chain belongs to.
type ChainOwner struct {
	Owner  *Owner
	Detail string
	// Service is the Service port the chain serves (for an endpoint's
	// chain too), and Endpoints how many it chooses among.
	Service   *Owner
	Endpoints int
}

// ChainOwners names the owner of every per-Service chain of the ports'
// rulesets: the Service port for svc-, local-, ext- and firewall- chains,
// the endpoint's pod for an ep- chain. Chain names are derived in package
// proxy alone, so this asks it rather than parsing names.
func ChainOwners(ports []service.Port) map[string]ChainOwner {
	out := map[string]ChainOwner{}
	for _, p := range ports {
		id := proxy.PortID(p)
		svc := &Owner{Kind: "Service", Namespace: p.Namespace, Name: p.Service}
		front := fmt.Sprintf("%s/%s", netip.AddrPortFrom(p.ClusterIP, p.Port), p.Protocol)
		n := len(p.Endpoints)
		for _, c := range []struct{ name, what string }{
			{proxy.ClusterChain(id), "Service " + svc.Namespace + "/" + svc.Name + " " + front},
			{proxy.LocalChain(id), "Service " + svc.Namespace + "/" + svc.Name + " " + front + ", this node's endpoints"},
			{proxy.ExternalChain(id), "Service " + svc.Namespace + "/" + svc.Name + ", external traffic"},
			{proxy.FirewallChain(id), "Service " + svc.Namespace + "/" + svc.Name + ", loadBalancerSourceRanges"},
			{proxy.LoadBalancerChain(id), "Service " + svc.Namespace + "/" + svc.Name + ", the switch's load balancer"},
		} {
			out[c.name] = ChainOwner{Owner: svc, Detail: c.what, Service: svc, Endpoints: n}
		}
		for _, ep := range p.Endpoints {
			o := &Owner{Kind: "Pod", Namespace: ep.Namespace, Name: ep.Pod}
			if ep.Pod == "" {
				o = &Owner{Kind: "Endpoint", Name: ep.IP.String()}
			}
			out[proxy.EndpointChain(id, ep)] = ChainOwner{Owner: o, Service: svc, Endpoints: n,
				Detail: fmt.Sprintf("endpoint %s of Service %s/%s", netip.AddrPortFrom(ep.IP, ep.Port), svc.Namespace, svc.Name)}
		}
	}
	return out
}

// HooksOf names the hook of each base chain of a ruleset, and of the trace
// tables' two chains.
func HooksOf(rs *proxy.Ruleset) map[string]string {
	out := map[string]string{"prerouting": "prerouting", "output": "output"}
	for _, c := range rs.Chains {
		if c.Hook != nil {
			out[c.Name] = c.Hook.Hook
		}
	}
	return out
}
