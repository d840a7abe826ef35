package lab

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"kinn.dev/kinn/lab/cni"
	"kinn.dev/kinn/lab/ipam"
	"kinn.dev/kinn/lab/kernel"
	"kinn.dev/kinn/lab/plan"
	"kinn.dev/kinn/lab/service"
	"kinn.dev/kinn/topology"
)

// Source is a topology with the bytes it came from, which Up records so
// that later commands see the lab as it was brought up.
type Source struct {
	Lab  *topology.Lab
	Raw  []byte
	Path string

	chain *cni.Chain // the plugin chain, once checked
	edit  bool       // a live edit: acts on what it names (see podfail.go)
}

// Result summarises an Up.
type Result struct {
	Plan     *plan.Lab
	Changes  int           // node-level kernel changes made
	Attached int           // pods attached (or re-attached)
	Removed  int           // namespaces of pods and nodes no longer in the topology
	Took     time.Duration // wall time
	// Repairs says, in words, what up found different in a lab that
	// existed and what it did about it (empty on a lab's first up).
	Repairs []string
	// Warnings name the pods, other than an edit's own, that are not
	// running: an edit succeeds without them (see podfail.go).
	Warnings []string
	// ChainWarnings are what up found wrong with the plugin chain but not
	// its to fix (capabilities kinn does not supply, pods on an old
	// configuration); up printed them with its progress.
	ChainWarnings []string
}

// repairs collects what up repaired, from parallel workers: differences
// between the kernel and the lab's previous desired state, not what a new
// topology adds (nothing on a lab's first up).
type repairs struct {
	mu    sync.Mutex
	lines []string
	was   *plan.Lab // the previous desired state; nil on a first up
	pods  map[string]plan.Pod
}

func newRepairs(was *plan.Lab) *repairs {
	r := &repairs{was: was, pods: map[string]plan.Pod{}}
	if was != nil {
		for _, p := range was.Pods {
			r.pods[p.Key()] = p
		}
	}
	return r
}

func (r *repairs) add(format string, a ...any) {
	if r.was == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, fmt.Sprintf(format, a...))
}

// node reports the changes to n that repair drift: those the previous
// desired state of the node wanted too. A node new to the lab has none.
func (r *repairs) node(p *plan.Lab, n plan.Node, have plan.NodeState, changes []plan.Change, created bool) {
	var before *plan.Node
	if r.was != nil {
		before = findNode(r.was, n.Name)
	}
	if before == nil {
		return
	}
	if created {
		r.add("%s: namespace was missing: created again (%d changes)", n.Name, len(changes))
		return
	}
	drift := map[string]bool{}
	for _, c := range plan.DiffNode(*before, have) {
		drift[c.String()] = true
	}
	for _, c := range changes {
		if drift[c.String()] {
			r.add("%s", p.Explain(n.Name, c))
		}
	}
}

// pod reports a pod attached again that was attached on that node before.
func (r *repairs) pod(pod plan.Pod, drift string) {
	if was, ok := r.pods[pod.Key()]; ok && was.Attached() && was.Node == pod.Node {
		r.add("pod %s on %s: %s: attached again", pod.Key(), pod.Node, drift)
	}
}

// Up creates or converges the lab described by src.
func Up(ctx context.Context, o Options, src Source) (*Result, error) {
	if err := topology.CheckLabName(src.Lab.Name); err != nil {
		return nil, &ConfigError{err}
	}
	// A chain that cannot work is bad input: reported before anything,
	// even the lab's runtime directory, exists.
	chain, err := checkChain(ctx, src.Lab)
	if err != nil {
		return nil, err
	}
	src.chain = chain
	unlock, err := lock(o, src.Lab.Name)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return up(ctx, o, src)
}

// Check checks what must work before anything of the lab exists, even its
// runtime directory: the plugin chain (a bad one is a *ConfigError).
// UpLocked checks it itself when this was not called.
func (s *Source) Check(ctx context.Context) error {
	chain, err := checkChain(ctx, s.Lab)
	s.chain = chain
	return err
}

// UpLocked is Up for a caller that holds the lab's lock (Lock).
func UpLocked(ctx context.Context, o Options, src Source) (*Result, error) {
	return up(ctx, o, src)
}

// up is Up with the lab's lock held.
func up(ctx context.Context, o Options, src Source) (*Result, error) {
	start := time.Now()
	t := src.Lab
	if err := CheckOwner(o, t.Name); err != nil {
		return nil, &ConfigError{err}
	}
	var err error
	dir := o.StateDir(t.Name)
	old := loadPlan(dir)
	if old != nil {
		// Pods already running stay on their nodes where they still fit.
		if t, err = resolveAgain(dir, src, old); err != nil {
			return nil, err
		}
		src.Lab = t
	}
	chain := src.chain
	if chain == nil {
		if chain, err = checkChain(ctx, t); err != nil {
			return nil, err
		}
	}
	// Services first: a collision there is the file's fault, and nothing
	// has been written yet.
	svcs, err := allocateServices(o, t)
	if err != nil {
		return nil, err
	}
	p, err := allocate(o, t)
	if err != nil {
		return nil, err
	}
	carryOver(old, p)
	p.Switch.Owner = owner(o, t.Name)
	fillPodDNS(t, svcs, p)
	// Record before touching the kernel, so that down and the next up know
	// the lab even if this one is killed half-way.
	if err := record(dir, src, p); err != nil {
		return nil, err
	}
	res := &Result{Plan: p}
	rep := newRepairs(old)
	defer func() { res.Repairs = rep.lines }()
	rt := runtime(dir, chain)
	defer rt.Log.Close()
	if res.Removed, err = removeStale(ctx, o, rt, old, p); err != nil {
		return nil, err
	}
	t0 := time.Now()
	if res.Changes, err = upNodes(ctx, p, rep); err != nil {
		return nil, err
	}
	o.progress("• switch and %d nodes: %d changes (%.2fs)", len(p.Nodes), res.Changes, time.Since(t0).Seconds())
	t0 = time.Now()
	res.Attached, res.Warnings, err = upPods(ctx, o, rt, p, rep, src.edit)
	if serr := savePlan(dir, p); serr != nil {
		return nil, serr
	}
	res.ChainWarnings = warnChain(o, rt, p)
	if err != nil {
		return res, err
	}
	o.progress("• %d pods: %d attached (%.2fs)", len(p.Pods), res.Attached, time.Since(t0).Seconds())
	for _, line := range removeStaleTraces(o, p) {
		o.progress("• %s", line)
	}
	res.Took = time.Since(start)
	return res, nil
}

func allocate(o Options, t *topology.Lab) (*plan.Lab, error) {
	store := ipam.FileStore{Path: filepath.Join(o.StateDir(t.Name), fileIPAM)}
	prev, err := store.Load()
	if err != nil {
		return nil, err
	}
	wants, err := plan.PodWants(t)
	if err != nil {
		return nil, err
	}
	alloc, err := ipam.Assign(prev, wants)
	if err != nil {
		return nil, err
	}
	if err := store.Save(alloc); err != nil {
		return nil, err
	}
	return plan.Build(t, alloc)
}

// allocateServices gives Services their ClusterIPs and node ports, keeping
// what they had, and returns them so; a collision stops up before anything
// changes.
func allocateServices(o Options, t *topology.Lab) ([]*corev1.Service, error) {
	store := service.FileStore{Path: filepath.Join(o.StateDir(t.Name), fileServices)}
	prev, err := store.Load()
	if err != nil {
		return nil, err
	}
	alloc, err := service.Allocate(prev, t.Networking.ServiceSubnet, t.LoadBalancer, t.Services)
	if err != nil {
		return nil, &ConfigError{err} // the file asks for what cannot be given
	}
	svcs := service.Apply(t.Services, alloc)
	warnPending(o, t.LoadBalancer, svcs)
	return svcs, store.Save(alloc)
}

// warnPending says which LoadBalancer Services kinn's controller serves but
// could not give an address: the pool is used up (MetalLB leaves them
// <pending> with an event; kinn says it here).
func warnPending(o Options, lb topology.LoadBalancer, svcs []*corev1.Service) {
	if len(lb.Pool) == 0 {
		return // no controller: <pending> is what was asked for
	}
	for _, svc := range svcs {
		if service.ServedByController(svc) && len(svc.Status.LoadBalancer.Ingress) == 0 {
			o.progress("warning: Service %s/%s stays <pending>: the load-balancer pool %s is used up (loadBalancer.addresses)", svc.Namespace, svc.Name, lb.Addresses())
		}
	}
}

func record(dir string, src Source, p *plan.Lab) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := ipam.WriteFileAtomic(filepath.Join(dir, fileTopology), src.Raw); err != nil {
		return err
	}
	path := src.Path
	if abs, err := filepath.Abs(path); err == nil && path != "" && path[0] != '<' {
		// Later commands (the lab process among them) may run elsewhere,
		// and a cni section's paths are relative to the file.
		path = abs
	}
	if err := ipam.WriteFileAtomic(filepath.Join(dir, fileSource), []byte(path)); err != nil {
		return err
	}
	return savePlan(dir, p)
}

// removeStale detaches pods and removes namespaces that are not in the new
// plan: pods through CNI DEL when the last plan knew them, then anything
// left with the lab's prefix.
func removeStale(ctx context.Context, o Options, rt *cni.Runtime, old, p *plan.Lab) (int, error) {
	want := map[string]bool{p.Switch.Netns: true}
	for _, n := range p.Nodes {
		want[n.Netns] = true
	}
	onNode := map[string]string{}
	for _, pod := range p.Pods {
		want[pod.Netns] = true
		onNode[pod.Netns] = pod.Node
	}
	var gone []plan.Pod
	if old != nil {
		for _, pod := range old.Pods {
			// A pod that moves to another node is gone from its old one:
			// DEL there, and a fresh namespace on the new one, so that no
			// two nodes ever work on one container at once.
			if !want[pod.Netns] || onNode[pod.Netns] != pod.Node {
				gone = append(gone, pod)
			}
		}
		for _, n := range old.Nodes {
			if findNode(p, n.Name) == nil {
				// Its cache would DEL into pods of a later node of the name.
				os.RemoveAll(rt.NodeDir(n))
			}
		}
	}
	removed, err := teardownPods(ctx, o, rt, old, gone)
	if err != nil {
		return removed, err
	}
	pods, nodes, other, err := namespaces(p.Name)
	if err != nil {
		return removed, err
	}
	for _, ns := range slices.Concat(pods, nodes, other) {
		if !want[ns] {
			if err := kernel.DeleteNetns(ns); err != nil {
				return removed, err
			}
			removed++
		}
	}
	return removed, nil
}

func findNode(p *plan.Lab, name string) *plan.Node {
	for i := range p.Nodes {
		if p.Nodes[i].Name == name {
			return &p.Nodes[i]
		}
	}
	return nil
}

// upNodes makes the switch and converges every node, nodes in parallel:
// each node's namespace is independent of the others.
func upNodes(ctx context.Context, p *plan.Lab, rep *repairs) (int, error) {
	fixed, err := kernel.EnsureSwitch(p.Switch)
	if err != nil {
		return 0, fmt.Errorf("switch: %w", err)
	}
	for _, f := range fixed {
		rep.add("switch: %s", f)
	}
	var mu sync.Mutex
	total := 0
	err = parallel(len(p.Nodes), func(i int) error {
		if err := ctx.Err(); err != nil {
			return err // interrupted: the next up converges what is done
		}
		n := p.Nodes[i]
		created, err := kernel.CreateNetns(n.Netns)
		if err != nil {
			return err
		}
		have, err := kernel.ObserveNode(n)
		if err != nil {
			return fmt.Errorf("observe node %s: %w", n.Name, err)
		}
		changes := plan.DiffNode(n, have)
		rep.node(p, n, have, changes, created)
		mu.Lock()
		total += len(changes)
		mu.Unlock()
		return kernel.ApplyNode(p.Switch, n, changes)
	})
	return total, err
}

// upPods creates missing pod namespaces and attaches, through CNI, every pod
// that is new or has drifted; a drifted pod is detached first. What each ADD
// gave (or why it failed) is written into p's pods, and each node's STATUS
// into its node. One failing pod does not stop the others (see podfail.go
// for which failures are the run's error and which are warnings); GC then
// tells each node's chain which pods are valid.
func upPods(ctx context.Context, o Options, rt *cni.Runtime, p *plan.Lab, rep *repairs, edit bool) (int, []string, error) {
	byNode := map[string][]int{}
	for i, pod := range p.Pods {
		byNode[pod.Node] = append(byNode[pod.Node], i)
	}
	var mu sync.Mutex
	attached := 0
	var pe podErrors
	err := parallel(len(p.Nodes), func(i int) error {
		n := &p.Nodes[i] // each worker writes only its node and its pods
		idx := byNode[n.Name]
		pods := make([]plan.Pod, len(idx))
		for j, k := range idx {
			pods[j] = p.Pods[k]
		}
		// As the kubelet polls the runtime: a node whose network is not
		// ready shows NotReady (with pods or without), and gets no new
		// sandboxes.
		n.NetworkNotReady = ""
		if err := rt.Status(ctx, *n); err != nil {
			n.NetworkNotReady = NetworkNotReady(err)
		}
		states, err := kernel.ObservePods(*n, pods)
		if err != nil {
			return err
		}
		for j, pod := range pods {
			drift := plan.PodDrift(pod, states[pod.Key()])
			if drift == "" {
				continue
			}
			if was, ok := rep.failedBefore(pod); ok && edit {
				p.Pods[idx[j]] = failed(pod, errors.New(was.Error))
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			var got plan.Pod
			if n.NetworkNotReady != "" {
				err = fmt.Errorf("pod %s: %w", pod.Key(), errNetworkNotReady(*n))
				got = failed(pod, err)
			} else {
				rep.pod(pod, drift)
				got, err = attach(ctx, rt, *n, pod, states[pod.Key()])
			}
			p.Pods[idx[j]] = got
			mu.Lock()
			if err != nil {
				pe.add(edit, rep, got, err)
			} else {
				attached++
			}
			mu.Unlock()
		}
		if n.NetworkNotReady != "" {
			return nil // GC is for a chain that works
		}
		if err := rt.GC(ctx, *n, attachedOnly(p.Pods, idx)); err != nil {
			o.progress("  warning: %v", err)
		}
		return nil
	})
	return attached, pe.warnings(p), errors.Join(pe.err(), err)
}

// attach (re)attaches one pod and returns it with what the ADD gave. A
// failed ADD is undone as a runtime undoes a failed sandbox: DEL, then the
// namespace goes, so that nothing half-made stays and the next up retries.
func attach(ctx context.Context, rt *cni.Runtime, n plan.Node, pod plan.Pod, st plan.PodState) (plan.Pod, error) {
	if st.Netns {
		// Something of it exists: DEL first so the plugin can clean up.
		if err := rt.Del(ctx, n, pod); err != nil {
			return failed(pod, err), err
		}
	} else if _, err := kernel.CreateNetns(pod.Netns); err != nil {
		return failed(pod, err), err
	}
	return add(ctx, rt, n, pod)
}

// add sends ADD for a pod whose namespace exists and nothing is attached.
func add(ctx context.Context, rt *cni.Runtime, n plan.Node, pod plan.Pod) (plan.Pod, error) {
	res, err := rt.Add(ctx, n, pod)
	if err == nil {
		pod.HostLink = cni.HostInterface(res)
		pod.IP, pod.Gateway, err = cni.Address(res)
		if err != nil {
			err = fmt.Errorf("pod %s: %w", pod.Key(), err)
		}
	}
	if err == nil {
		pod.Networks, err = rt.AddNetworks(ctx, n, pod)
	}
	if err != nil {
		// Even when interrupted: every ADD gets its DEL.
		rt.Del(context.WithoutCancel(ctx), n, pod)
		kernel.DeleteNetns(pod.Netns)
		return failed(pod, err), err
	}
	pod.Error = ""
	return pod, nil
}

// attachedOnly are the pods at idx whose ADD succeeded: the attachments
// GC must keep (a failed ADD was undone already).
func attachedOnly(pods []plan.Pod, idx []int) []plan.Pod {
	var out []plan.Pod
	for _, i := range idx {
		if pods[i].Attached() {
			out = append(out, pods[i])
		}
	}
	return out
}

func failed(pod plan.Pod, err error) plan.Pod {
	pod.Error = err.Error()
	pod.IP, pod.Gateway = netip.Prefix{}, netip.Addr{}
	return pod
}

// carryOver gives the new plan's pods what the last plan knew of their
// attachment: a chain's address comes from its ADD, not from kinn, and so
// do the extra networks' addresses.
func carryOver(old, p *plan.Lab) {
	if old == nil {
		return
	}
	was := map[string]plan.Pod{}
	for _, pod := range old.Pods {
		was[pod.Key()] = pod
	}
	for i := range p.Pods {
		o, ok := was[p.Pods[i].Key()]
		if !ok || o.Node != p.Pods[i].Node {
			continue
		}
		if p.Chain && old.Chain {
			p.Pods[i].IP, p.Pods[i].Gateway, p.Pods[i].Error, p.Pods[i].HostLink = o.IP, o.Gateway, o.Error, o.HostLink
		}
		cni.CarryNetworks(p.Pods[i].Networks, o.Networks)
	}
}

// parallel runs f(0..n-1) on a few workers and returns the first error.
func parallel(n int, f func(int) error) error { return parallelOn(4, n, f) }

// parallelOn is parallel with that many workers.
func parallelOn(workers, n int, f func(int) error) error {
	workers = min(n, workers)
	idx := make(chan int)
	errc := make(chan error, n)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range idx {
				if err := f(i); err != nil {
					errc <- err
				}
			}
		}()
	}
	for i := range n {
		idx <- i
	}
	close(idx)
	wg.Wait()
	close(errc)
	return <-errc
}
