package check

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"kinn.dev/kinn/lab/probe"
)

// Timeouts: a cell expected to pass gets longer than one expected to be
// dropped, whose whole point is that nothing comes back.
const (
	passTimeout = 2 * time.Second
	dropTimeout = 500 * time.Millisecond
)

// Run carries out the cells, several at a time, filling in their results.
func Run(ctx context.Context, enter probe.Enter, cells []Cell) {
	pings := map[string][]int{} // ICMP cells by source: one socket each
	var others []int
	for i, c := range cells {
		if c.Proto == ProtoSandbox {
			continue // decided by Plan: there is nothing to send from
		}
		if c.Proto == "ICMP" {
			pings[c.from.Netns] = append(pings[c.from.Netns], i)
		} else {
			others = append(others, i)
		}
	}
	sem := make(chan struct{}, 16)
	// Few pinging pods at once: each resolves its same-node peers through
	// ARP, and the kernel keeps one table of learned neighbours for the whole
	// machine (gc_thresh3, 1,024 entries); past it, lookups fail.
	pingSem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	pace := pacer(icmpPerSecond)
	for _, idx := range pings {
		wg.Go(func() {
			pingSem <- struct{}{}
			defer func() { <-pingSem }()
			ping(enter, cells, idx, pace)
		})
	}
	for _, i := range others {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			one(ctx, enter, &cells[i])
		})
	}
	wg.Wait()
	for i := range cells {
		if c := &cells[i]; !c.Passed && c.note != "" {
			c.Detail = strings.TrimSuffix(c.note+"; "+c.Detail, "; ")
		}
	}
}

// icmpPerSecond stays under the kernel's machine-wide ICMP reply budget
// (net.ipv4.icmp_msgs_per_sec, 1,000): past it, echo replies are dropped and
// a healthy lab would look broken.
const icmpPerSecond = 800

// pacer returns a function that lets callers through at most rate times a
// second, all together.
func pacer(rate int) func() {
	var mu sync.Mutex
	next := time.Now()
	step := time.Second / time.Duration(rate)
	return func() {
		mu.Lock()
		now := time.Now()
		if next.Before(now) {
			next = now
		}
		wait := next.Sub(now)
		next = next.Add(step)
		mu.Unlock()
		time.Sleep(wait)
	}
}

func ping(enter probe.Enter, cells []Cell, idx []int, pace func()) {
	p := probe.Prober{Enter: enter, Netns: cells[idx[0]].from.Netns, Timeout: passTimeout, Pace: pace}
	var targets []netip.Addr
	for _, i := range idx {
		targets = append(targets, netip.MustParseAddr(cells[i].Addr))
	}
	got, err := p.Ping(targets)
	for _, i := range idx {
		c := &cells[i]
		if err == nil {
			err := got[netip.MustParseAddr(c.Addr)]
			c.Result = string(probe.Classify(err))
			if c.Result == string(probe.Failed) {
				c.Detail = err.Error()
			}
		} else {
			c.Result, c.Detail = string(probe.Failed), err.Error()
		}
		c.Passed = c.Result == string(probe.OK)
	}
}

func one(ctx context.Context, enter probe.Enter, c *Cell) {
	timeout := passTimeout
	if c.Expect == Drop {
		timeout = dropTimeout
	}
	p := probe.Prober{Enter: enter, Netns: c.from.Netns, Timeout: timeout}
	var body string
	var err error
	proto, byName := strings.CutPrefix(c.Proto, "DNS+")
	if byName {
		// Resolve first: the name must lead to the Service's address.
		if err := resolves(ctx, p, c); err != nil {
			c.Result, c.Detail = string(probe.Failed), err.Error()
			return
		}
	}
	switch {
	case c.Query != "" && netip.MustParseAddrPort(c.Addr) == netip.AddrPortFrom(c.dns, 53):
		// The cluster DNS's own port speaks DNS, not netexec: ask it.
		var got []netip.Addr
		got, err = p.Lookup(ctx, c.Addr, strings.ToLower(proto), c.Query)
		body = fmt.Sprint(got)
	case proto == "UDP":
		body, err = p.UDP(ctx, c.Addr, "hostname")
	default:
		body, err = tcp(ctx, p, c.Addr)
	}
	outcome := probe.Classify(err)
	c.Result = string(outcome)
	if err == nil {
		c.Detail = strings.TrimSpace(body)
	} else if outcome == probe.Failed {
		c.Detail = err.Error()
	}
	switch c.Expect {
	case Pass:
		c.Passed = outcome == probe.OK
	case Refuse:
		c.Passed = outcome == probe.Refused
	case Drop:
		c.Passed = outcome == probe.Timeout
	}
}

// resolves looks the cell's name up from its pod through the cluster DNS
// and wants the address the cell will reach.
func resolves(ctx context.Context, p probe.Prober, c *Cell) error {
	want := netip.MustParseAddrPort(c.Addr).Addr()
	got, err := p.Lookup(ctx, netip.AddrPortFrom(c.dns, 53).String(), "udp", c.Query)
	if err != nil {
		return fmt.Errorf("resolve %s: %w", c.Query, err)
	}
	if !slices.Contains(got, want) {
		return fmt.Errorf("%s resolves to %v, not %s", c.Query, got, want)
	}
	return nil
}

// tcp asks for /hostname when the endpoint speaks HTTP, and settles for
// the connection when it does not (a kinn.dev/run program).
func tcp(ctx context.Context, p probe.Prober, addr string) (string, error) {
	c, err := p.Dial(ctx, "tcp4", addr)
	if err != nil {
		return "", err
	}
	c.Close()
	body, err := p.HTTPGet(ctx, addr, "/hostname")
	if err != nil {
		return "connected", nil
	}
	return body, nil
}
