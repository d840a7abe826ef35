package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/version"

	"kinn.dev/kinn/lab/kernel"
)

// cycle is what one attachment's ADD, CHECK, DEL and second DEL gave,
// each step's problems apart, so the main version can judge each clause
// and other versions sum them up.
type cycle struct {
	add, result, sandbox, chaining, check, del, del2 []string
	chained                                          bool // some plugin got a prevResult
	checked                                          bool // CHECK applies at this version
}

func (c *cycle) all() []string {
	var out []string
	for _, s := range [][]string{c.add, c.result, c.sandbox, c.chaining, c.check, c.del, c.del2} {
		out = append(out, s...)
	}
	return out
}

// lifecycle runs one attachment through ADD, CHECK, DEL and DEL again
// with list l, judging every plugin's own ADD output as it goes.
func (r *run) lifecycle(ctx context.Context, l *libcni.NetworkConfigList, a *attachment) cycle {
	var c cycle
	mark := r.rec.mark()
	_, err := r.cni.AddNetworkList(ctx, l, a.rt)
	calls, _ := r.rec.since(mark)
	if err != nil {
		c.add = []string{err.Error()}
		// The runtime must DEL even a failed ADD.
		if err := r.cni.DelNetworkList(ctx, l, a.rt); err != nil {
			c.del = []string{"DEL after the failed ADD: " + err.Error()}
		}
		return c
	}
	c.judgeAdds(l.CNIVersion, a, calls)
	c.sandbox = sandboxProblems(a, calls, l.CNIVersion)
	if ok, _ := version.GreaterThanOrEqualTo(l.CNIVersion, "0.4.0"); ok && !l.DisableCheck {
		c.checked = true
		if err := r.cni.CheckNetworkList(ctx, l, a.rt); err != nil {
			c.check = []string{err.Error()}
		}
	}
	if err := r.cni.DelNetworkList(ctx, l, a.rt); err != nil {
		c.del = []string{err.Error()}
	}
	if err := r.cni.DelNetworkList(ctx, l, a.rt); err != nil {
		c.del2 = []string{"second DEL: " + err.Error()}
	}
	return c
}

// judgeAdds checks each plugin's ADD output, and that a plugin given a
// prevResult kept it.
func (c *cycle) judgeAdds(v string, a *attachment, calls []call) {
	adds := slices.DeleteFunc(slices.Clone(calls), func(x call) bool { return x.Command != "ADD" })
	for i, x := range adds {
		for _, p := range resultProblems(x.Stdout, v, a.rt.IfName, a.rt.NetNS, i == len(adds)-1) {
			c.result = append(c.result, x.Plugin+": "+p)
		}
		var in struct {
			Prev json.RawMessage `json:"prevResult"`
		}
		json.Unmarshal(x.Stdin, &in)
		if len(in.Prev) == 0 || string(in.Prev) == "null" {
			continue
		}
		c.chained = true
		for _, p := range chainingProblems(in.Prev, x.Stdout, v) {
			c.chaining = append(c.chaining, x.Plugin+": "+p)
		}
	}
}

// sandboxProblems checks the container: CNI_IFNAME exists in CNI_NETNS
// with the addresses the chain's result gives it.
func sandboxProblems(a *attachment, calls []call, v string) []string {
	var final []byte
	for _, x := range calls {
		if x.Command == "ADD" {
			final = x.Stdout
		}
	}
	lines, err := kernel.Snapshot(a.netns)
	if err != nil {
		return []string{err.Error()}
	}
	if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, "link "+a.rt.IfName+" ") }) {
		return []string{fmt.Sprintf("no interface %s in the container's namespace", a.rt.IfName)}
	}
	var p problems
	for _, addr := range sandboxAddrs(final, v, a.rt.IfName, a.rt.NetNS) {
		if !slices.Contains(lines, "addr "+a.rt.IfName+" "+addr) {
			p.addf("the result gives %s address %s, the container's namespace does not have it", a.rt.IfName, addr)
		}
	}
	return p
}

// leftover records what a scenario left in the node beyond before.
func (r *run) leftover(scenario string, before []string) {
	after, err := r.state()
	if err != nil {
		r.leaks[scenario] = []string{err.Error()}
		return
	}
	if d := diffLines(before, after); len(d) > 0 {
		r.leaks[scenario] = d
	}
}

// fresh is a new attachment and the node's state before anything of it.
func (r *run) fresh() (*attachment, []string, error) {
	a, err := r.attachment()
	if err != nil {
		return nil, nil, err
	}
	before, err := r.state()
	return a, before, err
}
