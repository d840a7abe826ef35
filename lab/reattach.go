package lab

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"kinn.dev/kinn/lab/cni"
	"kinn.dev/kinn/lab/kernel"
	"kinn.dev/kinn/lab/plan"
)

// reattachWorkers is how many pods are reattached at once; CNI forbids
// only concurrent operations on one container.
const reattachWorkers = 8

// Reattached is one pod after `kinn cni reattach`.
type Reattached struct {
	Pod      string
	Node     string
	Old, New netip.Prefix // New is invalid when the ADD failed
	Err      error
}

// Changed reports whether the pod came back with another address.
func (r Reattached) Changed() bool { return r.Err == nil && r.Old != r.New }

// Reattach detaches pods through CNI DEL and attaches them again with ADD,
// with the plugin binaries and configuration as they are now, keeping the
// pods' namespaces (and so whatever runs in them). keys are namespace/name;
// none means every pod. The plan is saved with the new addresses, which the
// lab process turns into endpoints when it reloads.
func Reattach(ctx context.Context, o Options, name string, keys []string) ([]Reattached, time.Duration, error) {
	unlock, err := lock(o, name)
	if err != nil {
		return nil, 0, err
	}
	defer unlock()
	return ReattachLocked(ctx, o, name, keys)
}

// ReattachLocked is Reattach for a caller that holds the lab's lock (Lock),
// as `kinn cni reattach` does until the lab process has the new addresses.
func ReattachLocked(ctx context.Context, o Options, name string, keys []string) ([]Reattached, time.Duration, error) {
	cs, err := openCNILocked(ctx, o, name, keys)
	if err != nil {
		return nil, 0, err
	}
	defer cs.close()
	st, rt := cs.st, cs.rt
	var todo []int
	for i, p := range st.Plan.Pods {
		if cs.picked(p) {
			todo = append(todo, i)
		}
	}
	start := time.Now()
	out := make([]Reattached, len(todo))
	// Many workers: a plugin mostly waits (a veth's deletion waits for an
	// RCU grace period, ~20 ms here) rather than computes. Measured with
	// the bridge plugin, 100 pods: 2.3 s on 4 workers, 1.5-1.8 s on 6-16;
	// all DELs first and then all ADDs was no faster.
	var mu sync.Mutex
	parallelOn(reattachWorkers, len(todo), func(j int) error {
		pod := st.Plan.Pods[todo[j]]
		n := findNode(st.Plan, pod.Node)
		got, err := attach(ctx, rt, *n, pod, plan.PodState{Netns: kernel.NetnsExists(pod.Netns)})
		mu.Lock()
		st.Plan.Pods[todo[j]] = got
		mu.Unlock()
		out[j] = Reattached{Pod: pod.Key(), Node: pod.Node, Old: pod.IP, New: got.IP, Err: err}
		return nil
	})
	took := time.Since(start)
	return out, took, savePlan(o.StateDir(name), st.Plan)
}

// cniSession is a lab opened for CNI work on its pods: under its lock, with
// its chain checked and its runtime ready.
type cniSession struct {
	st     *State
	rt     *cni.Runtime
	keys   []string
	unlock func()
}

// openCNI locks and loads the lab, checks that every key names one of its
// pods and that its plugin chain can work.
func openCNI(ctx context.Context, o Options, name string, keys []string) (*cniSession, error) {
	unlock, err := lock(o, name)
	if err != nil {
		return nil, err
	}
	cs, err := openCNILocked(ctx, o, name, keys)
	if err != nil {
		unlock()
		return nil, err
	}
	cs.unlock = unlock
	return cs, nil
}

// openCNILocked is openCNI with the lab's lock held by the caller.
func openCNILocked(ctx context.Context, o Options, name string, keys []string) (*cniSession, error) {
	var err error
	cs := &cniSession{keys: keys, unlock: func() {}}
	if cs.st, err = Load(o, name); err != nil {
		return nil, err
	}
	if missing := unknownPods(cs.st.Plan, keys); len(missing) > 0 {
		return nil, fmt.Errorf("lab %s has no pod %v (see `kinn get pods -A`)", name, missing)
	}
	chain, err := checkChain(ctx, cs.st.Topology)
	if err != nil {
		return nil, err
	}
	cs.rt = runtime(o.StateDir(name), chain)
	return cs, nil
}

// picked reports whether the session works on pod: every pod when no key
// was given.
func (cs *cniSession) picked(p plan.Pod) bool {
	return len(cs.keys) == 0 || slices.Contains(cs.keys, p.Key())
}

func (cs *cniSession) close() {
	cs.rt.Log.Close()
	cs.unlock()
}

func unknownPods(p *plan.Lab, keys []string) []string {
	var missing []string
	for _, k := range keys {
		if !slices.ContainsFunc(p.Pods, func(pod plan.Pod) bool { return pod.Key() == k }) {
			missing = append(missing, k)
		}
	}
	return missing
}

// CNICheck is one pod's CNI CHECK.
type CNICheck struct {
	Pod, Node string
	Err       error
}

// CheckCNI asks the plugins whether pods (keys, or all) are as their ADD
// left them, with the cached results.
func CheckCNI(ctx context.Context, o Options, name string, keys []string) ([]CNICheck, error) {
	cs, err := openCNI(ctx, o, name, keys)
	if err != nil {
		return nil, err
	}
	defer cs.close()
	st, rt := cs.st, cs.rt
	var out []CNICheck
	for _, pod := range st.Plan.Pods {
		if !cs.picked(pod) {
			continue
		}
		c := CNICheck{Pod: pod.Key(), Node: pod.Node}
		if !pod.Attached() {
			c.Err = fmt.Errorf("not attached (%s)", cmp.Or(pod.Error, "no ADD yet"))
		} else {
			c.Err = rt.Check(ctx, *findNode(st.Plan, pod.Node), pod)
		}
		out = append(out, c)
	}
	return out, nil
}
