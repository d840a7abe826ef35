package workload

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// DialFunc opens a connection for a probe. The lab passes one whose sockets
// are created in the pod's node namespace, as kubelet dials from its node.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Probe is a pod's readiness: one check per container that declares a
// readinessProbe. The pod is ready when all of them are.
type Probe struct {
	checks []*check
	// After is the clock, replaceable by tests; nil means time.After.
	After func(time.Duration) <-chan time.Time

	// Failed, when set, is called after every failed probe of a container
	// with the probe's own error, as kubelet records an Unhealthy event
	// for each; it must not block.
	Failed func(container string, err error)

	notify  sync.Mutex
	mu      sync.Mutex
	ready   map[*check]bool
	results map[*check]*ProbeResult
}

// ProbeResult is one container's readiness probe as the kubelet knows it:
// its verdict and, while it fails, the last failure and how many failures
// in a row (an event's count).
type ProbeResult struct {
	Container string    `json:"container"`
	Probe     string    `json:"probe"` // "http-get http://:8080/healthz", kubectl describe's words
	Ready     bool      `json:"ready"`
	Error     string    `json:"error,omitempty"`    // the last failure, "" after a success
	Failures  int       `json:"failures,omitempty"` // failed probes in a row
	First     time.Time `json:"first,omitzero"`     // the first failure of the run
	Last      time.Time `json:"last,omitzero"`      // the last failure
}

// check is one container's readinessProbe, resolved against the pod.
type check struct {
	container                     string
	network                       string // "http" or "tcp"
	addr                          string // host:port dialled
	path                          string
	headers                       http.Header
	err                           error // set when the probe can never succeed
	initialDelay, period, timeout time.Duration
	prober                        *Prober
}

// NewProbe reads the readiness probes of pod, reachable at ip. It returns
// nil when no container has one, so the pod is ready as soon as it runs.
// Containers whose probe is exec or gRPC (kinn cannot run those) count as
// ready.
func NewProbe(pod *corev1.Pod, ip netip.Addr) *Probe {
	p := &Probe{ready: map[*check]bool{}, results: map[*check]*ProbeResult{}}
	for _, c := range pod.Spec.Containers {
		rp := c.ReadinessProbe
		if rp == nil || (rp.HTTPGet == nil && rp.TCPSocket == nil) {
			continue
		}
		ck := newCheck(c, rp, ip)
		p.checks = append(p.checks, ck)
		p.results[ck] = &ProbeResult{Container: c.Name, Probe: Describe(rp)}
	}
	if len(p.checks) == 0 {
		return nil
	}
	return p
}

func newCheck(c corev1.Container, rp *corev1.Probe, ip netip.Addr) *check {
	ck := &check{
		container:    c.Name,
		initialDelay: seconds(rp.InitialDelaySeconds, 0),
		period:       seconds(rp.PeriodSeconds, 10),
		timeout:      seconds(rp.TimeoutSeconds, 1),
		prober:       NewProber(int(rp.SuccessThreshold), int(rp.FailureThreshold)),
	}
	var port intstr.IntOrString
	host := ip.String()
	if g := rp.HTTPGet; g != nil {
		ck.network, port, ck.path = "http", g.Port, g.Path
		if g.Host != "" {
			host = g.Host
		}
		ck.headers = http.Header{}
		for _, h := range g.HTTPHeaders {
			ck.headers.Add(h.Name, h.Value)
		}
		if g.Scheme != "" && g.Scheme != corev1.URISchemeHTTP {
			ck.err = fmt.Errorf("scheme %s is not supported", g.Scheme)
		}
	} else {
		ck.network, port = "tcp", rp.TCPSocket.Port
		if rp.TCPSocket.Host != "" {
			host = rp.TCPSocket.Host
		}
	}
	n, err := resolvePort(port, c)
	if err != nil && ck.err == nil {
		ck.err = err
	}
	ck.addr = net.JoinHostPort(host, strconv.Itoa(n))
	return ck
}

func seconds(v, def int32) time.Duration {
	if v <= 0 {
		v = def
	}
	return time.Duration(v) * time.Second
}

// resolvePort turns a probe's port, a number or the name of one of the
// container's ports, into a number, as kubelet does.
func resolvePort(p intstr.IntOrString, c corev1.Container) (int, error) {
	if p.Type == intstr.Int {
		if p.IntVal <= 0 || p.IntVal >= 1<<16 {
			return 0, fmt.Errorf("port %d out of range", p.IntVal)
		}
		return int(p.IntVal), nil
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	if n, err := strconv.Atoi(p.StrVal); err == nil && n > 0 && n < 1<<16 {
		return n, nil // kubelet also accepts a number written as a string
	}
	return 0, fmt.Errorf("container %s has no port named %q", c.Name, p.StrVal)
}

// Ready reports whether every probed container is ready now.
func (p *Probe) Ready() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.allReady()
}

func (p *Probe) allReady() bool {
	for _, c := range p.checks {
		if !p.ready[c] {
			return false
		}
	}
	return true
}

// Results are the containers' probes as they stand, in container order.
func (p *Probe) Results() []ProbeResult {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]ProbeResult, 0, len(p.checks))
	for _, c := range p.checks {
		r := *p.results[c]
		r.Ready = p.ready[c]
		out = append(out, r)
	}
	return out
}

// observed records one probe's outcome for Results.
func (p *Probe) observed(c *check, err error, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.results[c]
	if err == nil {
		r.Error, r.Failures, r.First, r.Last = "", 0, time.Time{}, time.Time{}
		return
	}
	if r.Failures == 0 {
		r.First = now
	}
	r.Error, r.Last = err.Error(), now
	r.Failures++
}

// Run probes until ctx ends, calling onChange whenever the pod's readiness
// changes (it starts unready, and is not reported until it changes).
// onChange is called from Run's goroutines one at a time.
func (p *Probe) Run(ctx context.Context, dial DialFunc, onChange func(ready bool)) {
	var wg sync.WaitGroup
	for _, c := range p.checks {
		wg.Go(func() {
			p.loop(ctx, c, dial, func(ready bool) {
				// notify serialises callbacks in the order of the changes;
				// mu is released first so onChange may call Ready.
				p.notify.Lock()
				defer p.notify.Unlock()
				p.mu.Lock()
				before := p.allReady()
				p.ready[c] = ready
				after := p.allReady()
				p.mu.Unlock()
				if after != before {
					onChange(after)
				}
			})
		})
	}
	wg.Wait()
}

// loop is one container's worker: wait out the initial delay (kubelet does
// not probe before it), then probe every period.
func (p *Probe) loop(ctx context.Context, c *check, dial DialFunc, set func(bool)) {
	client := &http.Client{
		Transport:     &http.Transport{DialContext: dial, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	wait := c.initialDelay
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.after(wait):
		}
		wait = c.period
		err := c.probe(ctx, dial, client)
		if ctx.Err() != nil {
			return // stopped mid-probe: no verdict
		}
		p.observed(c, err, time.Now())
		if err != nil && p.Failed != nil {
			p.Failed(c.container, err)
		}
		if ready, changed := c.prober.Observe(err == nil); changed {
			set(ready)
		}
	}
}

func (p *Probe) after(d time.Duration) <-chan time.Time {
	if p.After != nil {
		return p.After(d)
	}
	return time.After(d)
}

// probe runs one check within its timeout; nil is success.
func (c *check) probe(ctx context.Context, dial DialFunc, client *http.Client) error {
	if c.err != nil {
		return c.err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if c.network == "tcp" {
		conn, err := dial(ctx, "tcp", c.addr)
		if err != nil {
			return err
		}
		return conn.Close()
	}
	return c.httpGet(ctx, client)
}

// httpGet succeeds on a status from 200 to 399 without following
// redirects, as kubelet counts a redirect as success.
func (c *check) httpGet(ctx context.Context, client *http.Client) error {
	path := c.path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.addr+path, nil)
	if err != nil {
		return err
	}
	req.Header = c.headers.Clone()
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "kube-probe/kinn")
	}
	if h := req.Header.Get("Host"); h != "" {
		req.Host = h
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		// kubelet's words (pkg/probe/http), which its event quotes.
		return fmt.Errorf("HTTP probe failed with statuscode: %d", resp.StatusCode)
	}
	return nil
}

// DialIn returns a DialFunc whose sockets are created inside netns through
// enter, e.g. DialIn(kernel.Do, node.Netns) to probe as that node's kubelet
// would. Addresses must be IP literals: a name would be resolved by
// goroutines outside the namespace.
func DialIn(enter EnterFunc, netns string) DialFunc {
	return func(ctx context.Context, network, addr string) (conn net.Conn, err error) {
		err = enter(netns, func() error {
			conn, err = (&net.Dialer{}).DialContext(ctx, network, addr)
			return err
		})
		return conn, err
	}
}
