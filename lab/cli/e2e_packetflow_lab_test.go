package cli_test

// The runner of the packet-flow tables (e2e_packetflow_test.go): it builds
// a kinn lab for one upstream test function, sends real packets for every
// row and judges them as kube-proxy's runPacketFlowTests judges its traced
// ones.
//
// The lab: two nodes, pf-worker standing for upstream's "test-node" and
// pf-control-plane for every other node. Each upstream endpoint address
// becomes a pod on the node its NodeName says (a nil NodeName: another
// node), serving agnhost netexec on the ports upstream's endpoints use
// (TCP 80, 8443, 5353 and UDP 53, and nothing on TCP 53 or 443, so a wrong
// target port is refused). The Services have no selector: their endpoints
// are EndpointSlices written from the table, with upstream's NodeName and
// conditions, so kinn's proxy sees what kube-proxy's did. Addresses are the
// lab's: each row keeps upstream's, and the runner translates them.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// Upstream's well-known addresses (proxier_test.go's conventions).
const (
	pfTestNode       = "test-node"
	pfTestNodeIP     = "192.168.0.2"
	pfTestNodeIPAlt  = "192.168.1.2"
	pfExternalClient = "203.0.113.2"
	// pfExternalBlocked is upstream's client outside its
	// loadBalancerSourceRanges (203.0.113.0/25).
	pfExternalBlocked = "203.0.113.130"
)

var (
	pfUpstreamServiceCIDR = netip.MustParsePrefix("172.30.0.0/16")
	pfUpstreamExternal    = netip.MustParsePrefix("203.0.113.0/24")
)

// The lab's side of them: pf-worker is the test node, pf-control-plane
// every other node; outside clients sit in the switch namespace.
const (
	pfLabTestNode   = "pf-worker"
	pfLabOtherNode  = "pf-control-plane"
	pfUnallocatedIP = "10.96.255.254" // in kinn's default service network, never allocated in these labs
)

// pfLBStandIn is the lab address of upstream's LoadBalancer IP in case i.
// A Service marked realLB gets it from kinn's load-balancer controller
// (spec.loadBalancerIP, the lab's pool being exactly these addresses), and
// the switch routes it to whichever node it chooses. Elsewhere it is an
// external IP that stands in for the LoadBalancer IP, which the outside
// reaches through the test node, because those rows are about what the
// test node's proxy does: kube-proxy sends LoadBalancer IPs and external
// IPs through the same service-ips map and external chain, so a row to
// the LB IP behaves as one to an external IP.
func pfLBStandIn(lbIP string, i int) string {
	last := map[string]int{"1.2.3.4": 4, "5.6.7.8": 8, "9.10.11.12": 12}[lbIP]
	return fmt.Sprintf("192.168.%d.%d", 100+i, last)
}

// pfLab is one upstream test function (or, for TestNodePorts, one of its
// settings): the lab's nodePortAddresses and the cases run in it.
type pfLab struct {
	nodePortAddresses []string // kinn's networking.nodePortAddresses; nil: its default, the primary address
	cases             []pfCase
}

// pfCase is one upstream setup: its Services and endpoints, the flows run
// against them, and those run after its EndpointSlices are deleted.
type pfCase struct {
	name    string // upstream's subtest name; "" when the function has none
	svcs    []pfSvc
	flows   []pfFlow
	deleted []pfFlow
}

// pfSvc is one upstream Service. Rows name it by its upstream addresses.
type pfSvc struct {
	name       string // upstream's namespace/name
	clusterIP  string // upstream's ClusterIP (the lab allocates its own)
	typ        corev1.ServiceType
	etpLocal   bool
	itpLocal   bool
	externalIP string // used as is in the lab
	lbIP       string // upstream's LoadBalancer IP: pfLBStandIn
	// realLB makes the lab Service a LoadBalancer that kinn's controller
	// gives the address, with sourceRanges (upstream's, its node network
	// 192.168.0.0/24 being the lab's nodeSubnet) as its
	// loadBalancerSourceRanges. Upstream's second LoadBalancer IP (5.6.7.8
	// in TestLoadBalancer) is the same lab address: kinn's controller gives
	// a Service one.
	realLB       bool
	sourceRanges []string
	ports        []pfPort
	eps          []pfEp
}

// pfPort is a service port; the EndpointSlice port of the same name is its
// target (or, without one, the port itself), as in upstream's slices.
type pfPort struct {
	name     string
	port     int
	proto    corev1.Protocol // "" is TCP
	target   int
	nodePort int // upstream's (3001): the lab's is 27000 more, in kinn's range
}

// pfEp is one endpoint of upstream's EndpointSlice.
type pfEp struct {
	ip   string // upstream's address, what rows' outputs name
	node string // upstream's NodeName: pfTestNode, another node, or "" (none)
	cond string // upstream's conditions as a YAML flow map, "" for none
}

// pfFlow is one upstream packetFlowTest, with its fields as upstream wrote
// them; differs says why kinn deliberately does otherwise, and kinn what
// it does instead, or remotePod what it does for a pod on another node
// than the test node (for the others, kinn does as upstream).
type pfFlow struct {
	name      string
	sourceIP  string
	protocol  corev1.Protocol
	destIP    string
	destPort  int
	output    string
	masq      bool
	differs   string
	kinn      *pfOutcome
	remotePod *pfOutcome
}

type pfOutcome struct {
	output string
	masq   bool
}

func (e pfEp) local() bool { return e.node == pfTestNode }

// pod is the lab pod standing for the endpoint.
func (e pfEp) pod() string {
	where := "remote"
	if e.local() {
		where = "local"
	}
	return where + "-" + strings.ReplaceAll(e.ip, ".", "-")
}

// labName is the lab Service of upstream Service ns/name in case i.
func (s pfSvc) labName(i int) (ns, name string) {
	ns, name, _ = strings.Cut(s.name, "/")
	return ns, fmt.Sprintf("%s-%d", name, i)
}

// runPacketFlowLab builds the lab and runs every case in it, the cases in
// parallel (each has its own Services).
func runPacketFlowLab(t *testing.T, lab pfLab) {
	e := newEnv(t, "pflow")
	e.up(pfTopology(t, lab))
	e.must("exec", "--name", e.name, "--external", "--", "sh", "-c", pfOutsideSetup(e))
	pfLiftICMPLimit(e)
	pfLBSources(e, lab)
	if slices := pfSlices(e, lab); slices != "" {
		e.apply(slices)
	}
	svcs := pfLabServices(e)
	for i, c := range lab.cases {
		body := func(t *testing.T) {
			w := &pfWorld{e: e, t: t, c: c, idx: i, svcs: svcs}
			w.run(c.flows)
			if len(c.deleted) > 0 {
				for _, s := range c.svcs {
					if len(s.eps) > 0 {
						ns, name := s.labName(i)
						e.must("delete", "--name", e.name, "-n", ns, "endpointslice", name+"-1")
					}
				}
				w.run(c.deleted)
			}
		}
		if c.name == "" {
			body(t)
			continue
		}
		t.Run(c.name, func(t *testing.T) { t.Parallel(); body(t) })
	}
}

// pfTopology writes the lab's topology file: the two nodes, a client pod
// on each, a pod for every endpoint address, and the Services.
func pfTopology(t *testing.T, lab pfLab) string {
	var b strings.Builder
	b.WriteString("kind: Cluster\napiVersion: kinn.dev/v1alpha1\nname: pf\nnodes: [{role: control-plane}, {role: worker}]\n")
	if lab.nodePortAddresses != nil {
		fmt.Fprintf(&b, "networking: {nodePortAddresses: [%s]}\n", strings.Join(lab.nodePortAddresses, ", "))
	}
	if pool := pfPool(lab); len(pool) > 0 {
		fmt.Fprintf(&b, "loadBalancer: {addresses: [%s]}\n", strings.Join(pool, ", "))
	}
	pod := func(name, node, args, ports string) {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: Pod\nmetadata: {name: %s}\nspec:\n  nodeName: %s\n  containers: [{name: c, image: registry.k8s.io/e2e-test-images/agnhost:2.53, args: %s%s}]\n", name, node, args, ports)
	}
	pod("client", pfLabTestNode, "[pause]", "")
	pod("remote-client", pfLabOtherNode, "[pause]", "")
	seen := map[string]bool{}
	for i, c := range lab.cases {
		for _, s := range c.svcs {
			for _, ep := range s.eps {
				if seen[ep.pod()] {
					continue
				}
				seen[ep.pod()] = true
				node := pfLabOtherNode
				if ep.local() {
					node = pfLabTestNode
				}
				pod(ep.pod(), node, "[netexec, --http-port=80, --udp-port=53]", ", ports: [{containerPort: 8443}, {containerPort: 5353}]")
			}
			b.WriteString(pfService(s, i))
		}
	}
	f := filepath.Join(t.TempDir(), "packetflow.yaml")
	if err := os.WriteFile(f, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// pfService is the lab's Service for s: no selector, upstream's type,
// policies and ports, upstream's external IP and the LB IP's stand-in.
func pfService(s pfSvc, i int) string {
	ns, name := s.labName(i)
	var b strings.Builder
	fmt.Fprintf(&b, "---\napiVersion: v1\nkind: Service\nmetadata: {name: %s, namespace: %s}\nspec:\n", name, ns)
	if s.typ != "" {
		fmt.Fprintf(&b, "  type: %s\n", s.typ)
	}
	if s.etpLocal {
		b.WriteString("  externalTrafficPolicy: Local\n")
	}
	if s.itpLocal {
		b.WriteString("  internalTrafficPolicy: Local\n")
	}
	var ext []string
	if s.externalIP != "" {
		ext = append(ext, s.externalIP)
	}
	if s.lbIP != "" && !s.realLB {
		ext = append(ext, pfLBStandIn(s.lbIP, i))
	}
	if s.realLB {
		fmt.Fprintf(&b, "  loadBalancerIP: %s\n", pfLBStandIn(s.lbIP, i))
		if len(s.sourceRanges) > 0 {
			fmt.Fprintf(&b, "  loadBalancerSourceRanges: [%s]\n", strings.Join(s.sourceRanges, ", "))
		}
	}
	if len(ext) > 0 {
		fmt.Fprintf(&b, "  externalIPs: [%s]\n", strings.Join(ext, ", "))
	}
	b.WriteString("  ports:\n")
	for _, p := range s.ports {
		fmt.Fprintf(&b, "  - {%sport: %d, protocol: %s", pfPortName(p.name), p.port, pfProto(p.proto))
		if p.nodePort != 0 {
			fmt.Fprintf(&b, ", nodePort: %d", p.nodePort+27000)
		}
		b.WriteString("}\n")
	}
	return b.String()
}

// pfPool is the lab's load-balancer pool: exactly the addresses its real
// LoadBalancers ask for.
func pfPool(lab pfLab) []string {
	var pool []string
	for i, c := range lab.cases {
		for _, s := range c.svcs {
			if s.realLB {
				pool = append(pool, pfLBStandIn(s.lbIP, i)+"/32")
			}
		}
	}
	return pool
}

// pfPortName is a port's name field, none for upstream's unnamed ports.
func pfPortName(name string) string {
	if name == "" {
		return ""
	}
	return "name: " + name + ", "
}

func pfProto(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

// pfSlices writes every case's EndpointSlices with the lab pods' addresses.
func pfSlices(e *env, lab pfLab) string {
	ips := map[string]string{}
	for _, p := range e.pods() {
		ips[p.Name] = p.Status.PodIP
	}
	var b strings.Builder
	for i, c := range lab.cases {
		for _, s := range c.svcs {
			if len(s.eps) == 0 {
				continue // upstream gives such a Service no slice at all
			}
			ns, name := s.labName(i)
			fmt.Fprintf(&b, "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: %s-1, namespace: %s, labels: {kubernetes.io/service-name: %s}}\naddressType: IPv4\nendpoints:\n", name, ns, name)
			for _, ep := range s.eps {
				fmt.Fprintf(&b, "- addresses: [%s]\n", ips[ep.pod()])
				switch {
				case ep.local():
					fmt.Fprintf(&b, "  nodeName: %s\n", pfLabTestNode)
				case ep.node != "":
					fmt.Fprintf(&b, "  nodeName: %s\n", pfLabOtherNode)
				}
				if ep.cond != "" {
					fmt.Fprintf(&b, "  conditions: %s\n", ep.cond)
				}
			}
			b.WriteString("ports:\n")
			for _, p := range s.ports {
				target := p.target
				if target == 0 {
					target = p.port
				}
				fmt.Fprintf(&b, "- {%sport: %d, protocol: %s}\n", pfPortName(p.name), target, pfProto(p.proto))
			}
		}
	}
	return b.String()
}

// pfLiftICMPLimit lets the lab's nodes send every ICMP error: the kernel
// sends at most one a second to a peer after a burst of a few
// (net.ipv4.icmp_ratelimit), so the refusals of one row would turn the
// next row's into timeouts, a DROP where the rules REJECT.
func pfLiftICMPLimit(e *env) {
	for _, n := range []string{pfLabTestNode, pfLabOtherNode} {
		e.must("exec", "--name", e.name, "node/"+n, "--", "sysctl", "-qw", "net.ipv4.icmp_ratelimit=0")
	}
}

// pfOutsideSetup gives the switch namespace (kinn exec --external) the
// outside client's address and routes to the service network, the external
// IPs and the test node's pod network (where its second address is) via
// the test node, as a router in front of a cluster would.
func pfOutsideSetup(e *env) string {
	via := e.nodeIP(pfLabTestNode)
	cmds := []string{"ip addr add " + pfExternalClient + "/32 dev lo", "ip addr add " + pfExternalBlocked + "/32 dev lo"}
	for _, dst := range []string{"10.96.0.0/16", "192.168.96.0/19", e.nodeAlt(pfLabTestNode) + "/32"} {
		cmds = append(cmds, "ip route add "+dst+" via "+via)
	}
	return strings.Join(cmds, " && ")
}

// pfLBSources puts every real LoadBalancer's address on the test node's lo,
// for the rows whose packets come from it.
func pfLBSources(e *env, lab pfLab) {
	for _, a := range pfPool(lab) {
		e.must("exec", "--name", e.name, "node/"+pfLabTestNode, "--", "ip", "addr", "add", a, "dev", "lo")
	}
}

func (e *env) nodeIP(name string) string {
	e.t.Helper()
	for _, n := range e.nodes() {
		if n.Name == name {
			return n.Status.Addresses[0].Address
		}
	}
	e.t.Fatalf("no node %s", name)
	return ""
}

// nodeAlt is the node's second address, standing for upstream's
// testNodeIPAlt: the gateway of its pod network (on cni0).
func (e *env) nodeAlt(name string) string {
	e.t.Helper()
	for _, n := range e.nodes() {
		if n.Name == name {
			return netip.MustParsePrefix(n.Spec.PodCIDR).Addr().Next().String()
		}
	}
	e.t.Fatalf("no node %s", name)
	return ""
}

// pfLabServices are the lab's Services by namespace/name.
func pfLabServices(e *env) map[string]corev1.Service {
	var l corev1.ServiceList
	if err := json.Unmarshal([]byte(e.must("get", "svc", "-A", "-o", "json", "--name", e.name)), &l); err != nil {
		e.t.Fatal(err)
	}
	out := map[string]corev1.Service{}
	for _, s := range l.Items {
		out[s.Namespace+"/"+s.Name] = s
	}
	return out
}

// pfWorld translates one case's upstream addresses into the lab's.
type pfWorld struct {
	e    *env
	t    *testing.T
	c    pfCase
	idx  int
	svcs map[string]corev1.Service
}

// pfSource is where a probe runs and the address it sends from.
type pfSource struct {
	exec   []string // kinn exec's target arguments
	bind   string   // source address to bind, "" for the kernel's choice
	addr   string   // the address the packet leaves with, before any NAT
	desc   string
	remote bool // a pod on another node than the test node
}

func (w *pfWorld) podIP(name string) string {
	for _, p := range w.e.pods() {
		if p.Name == name {
			return p.Status.PodIP
		}
	}
	w.t.Fatalf("no pod %s", name)
	return ""
}

// sources are where a row's packets come from. A pod that is no endpoint
// is the client on the test node; for a NodePort of the test node, a pod
// on another node too, since upstream's "pod" may be anywhere and only the
// test node's proxy handles that packet.
func (w *pfWorld) sources(f pfFlow) []pfSource {
	src := netip.MustParseAddr(f.sourceIP)
	switch {
	case f.sourceIP == pfTestNodeIP:
		return []pfSource{{exec: []string{"node/" + pfLabTestNode}, addr: w.e.nodeIP(pfLabTestNode), desc: "the test node"}}
	case pfUpstreamExternal.Contains(src):
		return []pfSource{{exec: []string{"--external"}, bind: f.sourceIP, addr: f.sourceIP, desc: "outside"}}
	}
	for _, s := range w.c.svcs {
		for _, ep := range s.eps {
			if ep.ip == f.sourceIP {
				return []pfSource{{exec: []string{ep.pod()}, addr: w.podIP(ep.pod()), desc: "endpoint pod " + ep.pod()}}
			}
		}
		if s.realLB && (f.sourceIP == s.lbIP || f.sourceIP == "5.6.7.8") {
			// Something beyond kube-proxy made the node's connection to
			// its load balancer come from the LoadBalancer IP: the
			// address on the test node's lo, bound.
			lb := pfLBStandIn(s.lbIP, w.idx)
			return []pfSource{{exec: []string{"node/" + pfLabTestNode}, bind: lb, addr: lb, desc: "the test node, from the LoadBalancer IP"}}
		}
	}
	out := []pfSource{{exec: []string{"client"}, addr: w.podIP("client"), desc: "a pod on the test node"}}
	if f.destIP == pfTestNodeIP || f.destIP == pfTestNodeIPAlt {
		out = append(out, pfSource{exec: []string{"remote-client"}, addr: w.podIP("remote-client"), desc: "a pod on another node", remote: true})
	}
	return out
}

// dest is the lab address and port of a row's destination.
func (w *pfWorld) dest(f pfFlow) (string, int) {
	switch f.destIP {
	case pfTestNodeIP, pfTestNodeIPAlt:
		addr := w.e.nodeIP(pfLabTestNode)
		if f.destIP == pfTestNodeIPAlt {
			addr = w.e.nodeAlt(pfLabTestNode)
		}
		for _, s := range w.c.svcs {
			for _, p := range s.ports {
				if p.nodePort == f.destPort {
					return addr, p.nodePort + 27000
				}
			}
		}
		w.t.Fatalf("no Service has NodePort %d", f.destPort)
	}
	for _, s := range w.c.svcs {
		ns, name := s.labName(w.idx)
		switch f.destIP {
		case s.clusterIP:
			return w.svcs[ns+"/"+name].Spec.ClusterIP, f.destPort
		case s.externalIP:
			return s.externalIP, f.destPort
		case s.lbIP:
			return pfLBStandIn(s.lbIP, w.idx), f.destPort
		}
		if s.realLB && f.destIP == "5.6.7.8" {
			return pfLBStandIn(s.lbIP, w.idx), f.destPort // upstream's LB2: the same lab address
		}
	}
	if pfUpstreamServiceCIDR.Contains(netip.MustParseAddr(f.destIP)) {
		return pfUnallocatedIP, f.destPort
	}
	w.t.Fatalf("row %q: no lab address for %s", f.name, f.destIP)
	return "", 0
}

// endpoints are the lab pods a row's output names ("10.180.0.1:80, ..."),
// sorted. The port is not compared: the backends listen only on the ports
// upstream's endpoints use, so a wrong target port is refused.
func (w *pfWorld) endpoints(output string) []string {
	var out []string
	for _, hp := range strings.Split(output, ", ") {
		ap := netip.MustParseAddrPort(hp)
		found := ""
		for _, s := range w.c.svcs {
			for _, ep := range s.eps {
				if found == "" && ep.ip == ap.Addr().String() {
					found = ep.pod()
				}
			}
		}
		if found == "" {
			w.t.Fatalf("output %q names %s, no endpoint of the case", output, hp)
		}
		out = append(out, found)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// pfProbe is one row from one source, and what its packets met.
type pfProbe struct {
	flow    pfFlow
	src     pfSource
	dst     string
	port    int
	results []pfResult
	err     string
}

// pfResult is one connection (or UDP exchange): who answered and whom it
// saw, or the error ("refused", "timeout", ...).
type pfResult struct {
	Pod    string `json:"pod"`
	Client string `json:"client"`
	Err    string `json:"err"`
}

// pfProbes bounds the probes running at once over every lab of the run.
var pfProbes = make(chan struct{}, 16)

// run probes every row from every source at once, then judges each row in
// a subtest named as upstream's.
func (w *pfWorld) run(flows []pfFlow) {
	var probes [][]*pfProbe
	var wg sync.WaitGroup
	for _, f := range flows {
		var row []*pfProbe
		dst, port := w.dest(f)
		for _, src := range w.sources(f) {
			p := &pfProbe{flow: f, src: src, dst: dst, port: port}
			row = append(row, p)
			wg.Go(func() {
				pfProbes <- struct{}{}
				defer func() { <-pfProbes }()
				p.send(w.e, w.want(f, src).output)
			})
		}
		probes = append(probes, row)
	}
	wg.Wait()
	for _, row := range probes {
		f := row[0].flow
		w.t.Run(f.name, func(t *testing.T) {
			for _, p := range row {
				w.judge(t, p)
			}
		})
	}
}

func (w *pfWorld) want(f pfFlow, src pfSource) pfOutcome {
	if src.remote && f.remotePod != nil {
		return *f.remotePod
	}
	if f.kinn != nil {
		return *f.kinn
	}
	return pfOutcome{f.output, f.masq}
}

// pfProbeScript makes n connections (TCP: an HTTP GET of netexec's
// description; UDP: netexec's hostname and clientip commands on one
// socket) and prints one JSON line each.
const pfProbeScript = `import json, socket, sys
proto, dst, port, n, bind = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
def one():
    if proto == "UDP":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(1)
        if bind: s.bind((bind, 0))
        s.connect((dst, port))
        s.send(b"hostname"); pod = s.recv(512).decode()
        s.send(b"clientip"); client = s.recv(512).decode()
        return {"pod": pod, "client": client}
    s = socket.create_connection((dst, port), timeout=1, source_address=(bind, 0) if bind else None)
    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
    data = b""
    while True:
        d = s.recv(4096)
        if not d: break
        data += d
    return json.loads(data.split(b"\r\n\r\n", 1)[1])
for _ in range(n):
    try: r = one()
    except ConnectionRefusedError: r = {"err": "refused"}
    except socket.timeout: r = {"err": "timeout"}
    except Exception as e: r = {"err": type(e).__name__ + ": " + str(e)}
    print(json.dumps(r), flush=True)
`

// send runs the probe: enough connections to meet every expected endpoint
// (at 12 per endpoint, missing one of three has odds of 1 in 10^6), a few
// to see a refusal, two to see a drop (each waits out its 1 s timeout).
func (p *pfProbe) send(e *env, output string) {
	n := 3
	switch output {
	case "DROP":
		n = 2
	case "REJECT", "":
	default:
		n = 12 * (strings.Count(output, ",") + 1)
	}
	args := append([]string{"exec", "--name", e.name}, p.src.exec...)
	args = append(args, "--", "python3", "-c", pfProbeScript, string(pfProto(p.flow.protocol)), p.dst, fmt.Sprint(p.port), fmt.Sprint(n), p.src.bind)
	out, errOut, code := e.run(args...)
	if code != 0 {
		p.err = fmt.Sprintf("probe exit %d: %s", code, errOut)
		return
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var r pfResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			p.err = fmt.Sprintf("probe output %q: %v", sc.Text(), err)
			return
		}
		p.results = append(p.results, r)
	}
}

// judge compares what one source's packets met with the row's outcome:
// REJECT is refused at once (a TCP reset or ICMP port unreachable), DROP a
// timeout, "" (no rule matched: the node's own stack, where nothing
// listens) refused too; otherwise every connection answered by the listed
// endpoints, each of them at least once, and the source masqueraded (the
// endpoint saw another address than the sender's) or not as the row says.
func (w *pfWorld) judge(t *testing.T, p *pfProbe) {
	f, want := p.flow, w.want(p.flow, p.src)
	where := fmt.Sprintf("from %s (%s) to %s:%d/%s", p.src.desc, p.src.addr, p.dst, p.port, pfProto(f.protocol))
	if want != (pfOutcome{f.output, f.masq}) {
		if f.differs == "" {
			t.Fatalf("row %q expects otherwise than upstream without saying why (differs)", f.name)
		}
		t.Logf("%s: kinn differs from kube-proxy (upstream %q, masq %v): %s", where, f.output, f.masq, f.differs)
	}
	if p.err != "" {
		t.Fatalf("%s: %s", where, p.err)
	}
	got := map[string]int{}
	var clients []string
	for _, r := range p.results {
		switch {
		case r.Err != "":
			got[r.Err]++
		default:
			got[r.Pod]++
			ap, err := netip.ParseAddrPort(r.Client)
			if err != nil {
				t.Fatalf("%s: endpoint %s saw client %q", where, r.Pod, r.Client)
			}
			clients = append(clients, ap.Addr().String())
		}
	}
	switch want.output {
	case "REJECT", "":
		if got["refused"] != len(p.results) {
			t.Errorf("%s: got %v, want every connection refused at once (%s)", where, got, pfWhy(want.output))
		}
		return
	case "DROP":
		if got["timeout"] != len(p.results) {
			t.Errorf("%s: got %v, want every packet dropped (a timeout)", where, got)
		}
		return
	}
	eps := w.endpoints(want.output)
	answered := slices.Sorted(func(yield func(string) bool) {
		for k := range got {
			if !yield(k) {
				return
			}
		}
	})
	if !slices.Equal(answered, eps) {
		t.Errorf("%s: %d connections met %v, want exactly %v (upstream %q)", where, len(p.results), got, eps, want.output)
	}
	for _, c := range clients {
		if masq := c != p.src.addr; masq != want.masq {
			t.Errorf("%s: the endpoint saw the client as %s: masqueraded %v, want %v", where, c, masq, want.masq)
			break
		}
	}
}

func pfWhy(output string) string {
	if output == "" {
		return "no rule matches: the node itself refuses, nothing listens there"
	}
	return "REJECT"
}
