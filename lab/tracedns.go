package lab

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	mdns "github.com/miekg/dns"

	"kinn.dev/kinn/lab/dns"
	"kinn.dev/kinn/lab/kernel"
	"kinn.dev/kinn/lab/kernel/nftrace"
	"kinn.dev/kinn/lab/plan"
	"kinn.dev/kinn/lab/probe"
	"kinn.dev/kinn/lab/service"
	"kinn.dev/kinn/lab/trace"
)

// A DNS name as DST is resolved the way the source pod's own resolver
// would: real queries from inside its namespace, to the nameserver of the
// resolv.conf the kubelet would write for it, through its search list and
// ndots (dns.SearchList). The address found is then traced as what it is:
// a Service's ClusterIP as that Service, a pod's address as that pod.
//
// Only a pod resolves names: a node's resolver (and the outside world's)
// is the host's, which knows nothing of cluster.local; on a real node a
// name like web.default.svc.cluster.local does not resolve either. And
// only through a nameserver in the lab: a pod with dnsPolicy Default has
// the host's nameservers, and a trace sends nothing out of the lab.

// dnsTimeout bounds each query of a live trace, whose --timeout is the
// wait for the connection.
const dnsTimeout = 2 * time.Second

// nameLookup is how DST's name was resolved from the source pod.
type nameLookup struct {
	name   string
	from   string   // the source pod, ns/name
	server traceDst // the nameserver, as a destination
	tried  []dns.Attempt
	addrs  []netip.Addr
	// silent is the query that got no answer at all: the name could not
	// be resolved, and the trace is the query's.
	silent *dns.Attempt
}

// isDNSName reports whether DST is to be resolved: dns/NAME, or a bare
// word no pod has (pods come first).
func isDNSName(dst string) (string, bool) {
	if rest, ok := strings.CutPrefix(dst, "dns/"); ok {
		return rest, true
	}
	return dst, !strings.Contains(dst, "/")
}

// resolveName resolves name from the source pod and resolves DST again
// as the Service, pod or address it named. notPod is set for a bare word
// that was tried as a pod first.
func (s *State) resolveName(ctx context.Context, r TraceRequest, name string, ports []service.Port, notPod bool) (traceDst, error) {
	var d traceDst
	pod := ""
	if notPod {
		pod = fmt.Sprintf("no pod %q in namespace %q, and ", name, r.Namespace)
	}
	if _, ok := mdns.IsDomainName(name); !ok || len(name) > 253 {
		return d, bad("destination %q: %sno valid DNS name (labels of 1 to 63 characters, 253 in all)", name, pod)
	}
	if r.Src.Pod == "" {
		return d, bad("destination %q: %sa DNS name is resolved as a pod's resolver would, from a pod: "+
			"a node's and the outside's resolvers do not know the cluster's names; give svc/NAME, a pod or an address", name, pod)
	}
	lk, err := s.lookup(ctx, r, name, ports)
	if err != nil {
		return d, err
	}
	if lk.silent != nil {
		d.what, d.lookup = fmt.Sprintf("%s (unresolved)", name), lk
		return d, nil
	}
	if len(lk.addrs) == 0 {
		return d, bad("destination: %sname %q not found from pod %s (searched: %s)", pod, name, lk.from, searched(lk.tried))
	}
	r.Dst = s.nameTarget(lk.addrs[0], r, ports)
	if d, err = s.resolveDst(ctx, r, ports); err != nil {
		return d, err
	}
	d.what = fmt.Sprintf("%s = %s", lk.tried[len(lk.tried)-1].Name, d.what)
	d.lookup = lk
	return d, nil
}

// nameTarget is what an address found by name is, as a DST: a Service
// by its ClusterIP, a pod by its address, else the address itself.
func (s *State) nameTarget(a netip.Addr, r TraceRequest, ports []service.Port) string {
	for _, p := range ports {
		if p.ClusterIP == a {
			return "svc/" + p.Namespace + "/" + p.Service
		}
	}
	for _, p := range s.Plan.Pods {
		if p.IP.Addr() == a {
			return "pod/" + p.Namespace + "/" + p.Name
		}
	}
	return a.String()
}

func searched(tried []dns.Attempt) string {
	var out []string
	for _, a := range tried {
		out = append(out, a.String())
	}
	return strings.Join(out, ", ")
}

// lookup asks the source pod's nameserver for name through its search
// list, untraced, from the pod's namespace.
func (s *State) lookup(ctx context.Context, r TraceRequest, name string, ports []service.Port) (*nameLookup, error) {
	key := r.Src.Namespace + "/" + r.Src.Pod
	conf, ok := s.podDNS(key)
	if !ok {
		return nil, bad("source: pod %s not found in lab %s", key, s.Plan.Name)
	}
	lk := &nameLookup{name: name, from: key}
	server, err := s.nameserver(ctx, r, conf, ports)
	if err != nil {
		return nil, err
	}
	lk.server = server
	src, err := s.Netns(r.Src)
	if err != nil {
		return nil, &BadInput{err}
	}
	p := probe.Prober{Enter: kernel.Do, Netns: src, Timeout: queryTimeout(r)}
	for _, fqdn := range dns.SearchList(name, conf) {
		a := dns.Attempt{Name: fqdn}
		m, err := p.Query(ctx, server.addr.String(), "udp", fqdn)
		if err != nil {
			a.Err = noAnswer(err)
		} else {
			a.Rcode, a.Addrs = m.Rcode, len(probe.ARecords(m))
		}
		lk.tried = append(lk.tried, a)
		found, next := a.Result()
		switch {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case found:
			lk.addrs = probe.ARecords(m)
			return lk, nil
		case a.Err != nil:
			lk.silent = &lk.tried[len(lk.tried)-1]
			return lk, nil
		case !next:
			return lk, nil
		}
	}
	return lk, nil
}

func queryTimeout(r TraceRequest) time.Duration {
	if r.Live {
		return min(r.Timeout, dnsTimeout)
	}
	return r.Timeout
}

// noAnswer words a query that got nothing back.
func noAnswer(err error) error {
	switch o, why := probe.Classify(err), err.Error(); {
	case o == probe.Timeout:
		return errors.New("no answer")
	case o == probe.Refused:
		return errors.New("refused (ICMP port unreachable)")
	default:
		return errors.New(why)
	}
}

// podDNS is the source pod's resolv.conf, as PodView writes it.
func (s *State) podDNS(key string) (plan.DNS, bool) {
	for _, tp := range s.Topology.Pods {
		if tp.Key() == key && tp.Pod != nil {
			hostResolv, _ := os.ReadFile("/etc/resolv.conf") // only the Default policy passes it on
			return dns.PodDNS(tp.Pod, s.ClusterDNS(), s.Topology.Networking.DNSDomain, string(hostResolv)), true
		}
	}
	return plan.DNS{}, false
}

// nameserver is the pod's first nameserver as a destination, with the
// source's namespace in from: a Service of the lab (kube-dns), or a pod.
func (s *State) nameserver(ctx context.Context, r TraceRequest, conf plan.DNS, ports []service.Port) (traceDst, error) {
	key := r.Src.Namespace + "/" + r.Src.Pod
	if len(conf.Servers) == 0 {
		return traceDst{}, bad("destination %q: pod %s has no nameserver (dnsPolicy None without dnsConfig): it cannot resolve names", r.Dst, key)
	}
	a, err := netip.ParseAddr(conf.Servers[0])
	if err != nil {
		return traceDst{}, bad("destination %q: pod %s's nameserver %q is no address", r.Dst, key, conf.Servers[0])
	}
	q := TraceRequest{Src: r.Src, Namespace: r.Namespace, Port: 53, Proto: "udp", Dst: s.nameTarget(a, r, ports)}
	if q.Dst == a.String() {
		return traceDst{}, bad("destination %q: pod %s's nameserver %s is outside the lab (dnsPolicy Default passes on the host's): "+
			"kinn trace sends nothing out of the lab; give svc/NAME, a pod or an address", r.Dst, key, a)
	}
	return s.resolveDst(ctx, q, ports)
}

// traceLookup traces one query of the name as the source pod sent it:
// with --dns the one that found the address, and in any case the one
// that got no answer, which is then the whole story. It returns nil when
// there is nothing to trace.
func (s *State) traceLookup(ctx context.Context, r TraceRequest, src string, dst traceDst, ports []service.Port) (*trace.Journey, error) {
	lk := dst.lookup
	if lk == nil || (!r.DNS && lk.silent == nil) {
		return nil, nil
	}
	fqdn := lk.tried[len(lk.tried)-1].Name
	q := new(mdns.Msg)
	q.SetQuestion(fqdn, mdns.TypeA)
	payload, err := q.Pack()
	if err != nil {
		return nil, err
	}
	var answer *mdns.Msg
	server := lk.server
	server.send = func(ctx context.Context) trace.ProbeResult {
		res := nftrace.SendUDP(ctx, src, server.addr, payload, TraceDSCP, queryTimeout(r))
		if res.Outcome == trace.Answered {
			answer = new(mdns.Msg)
			if answer.Unpack([]byte(res.Answer)) != nil {
				answer = nil
			}
		}
		return res
	}
	qr := r
	qr.Proto, qr.Live = "udp", false
	qr.Record = nil // the recording is the connection's
	j, err := s.journey(ctx, qr, src, server, ports, "")
	if err != nil {
		return nil, err
	}
	j.Summary = fmt.Sprintf("%s A? from pod %s: %s", fqdn, lk.from, j.Summary)
	if answer != nil {
		a := dns.Attempt{Name: fqdn, Rcode: answer.Rcode, Addrs: len(probe.ARecords(answer))}
		j.Summary += ": " + answerText(a, probe.ARecords(answer))
	}
	if n := len(lk.tried); n > 1 {
		j.Summary += " (searched before: " + searched(lk.tried[:n-1]) + ")"
	}
	return &j, nil
}

func answerText(a dns.Attempt, addrs []netip.Addr) string {
	if a.Addrs == 0 {
		return mdns.RcodeToString[a.Rcode]
	}
	var out []string
	for _, ip := range addrs {
		out = append(out, ip.String())
	}
	return "A " + strings.Join(out, " ")
}

// unresolved is the journey of a name whose query got no answer: the
// query's own journey says where it went; nothing else was sent.
func unresolved(dst traceDst, dj *trace.Journey) trace.Journey {
	lk := dst.lookup
	j := trace.Journey{Request: []trace.Hop{}, Reply: []trace.Hop{}, DNS: dj, Verdict: trace.Dropped}
	if dj.Verdict == trace.RefusedV {
		j.Verdict = trace.RefusedV
	}
	j.Summary = fmt.Sprintf("%q could not be resolved from pod %s: the query for %s to %s got %s, so nothing was sent to it",
		lk.name, lk.from, lk.silent.Name, lk.server.addr, lk.silent.Err)
	if dj.Verdict == trace.Delivered {
		j.Summary += " (the traced query, sent again, was answered: try again)"
	}
	return j
}
