package daemon

import (
	"context"
	"fmt"
	"log"
	"maps"
	"os"
	"os/exec"
	"syscall"
	"time"

	"kinn.dev/kinn/lab/dns"
	"kinn.dev/kinn/lab/kernel"
	"kinn.dev/kinn/lab/plan"
	"kinn.dev/kinn/lab/workload"
	"kinn.dev/kinn/topology"
)

// podRT is one running pod: its servers (or program) and readiness probe.
type podRT struct {
	netns  string
	id     uint64 // the namespace it runs in: a recreated one is new
	server *workload.Server
	cmd    *exec.Cmd
	stop   context.CancelFunc // ends the probe
	probed bool               // the probe's verdict (true without a probe)
	probe  *workload.Probe    // nil without one
	events *probeEvents
	dns    *dns.Server // a DNS pod's server
	err    string
}

// syncPods starts what runs in each pod whose namespace exists and stops
// what runs in pods that are gone. It reports whether anything changed.
func (w *world) syncPods() bool {
	changed := false
	want := map[string]bool{}
	for _, tp := range w.st.Topology.Pods {
		pp, ok := w.planPod(tp.Key())
		if !ok {
			continue
		}
		want[tp.Key()] = true
		rt := w.pods[tp.Key()]
		id := kernel.NetnsID(pp.Netns) // 0: no namespace
		if rt != nil && rt.id != id {
			// Gone, or replaced by a new namespace of the same name: the
			// servers still hold the old one alive.
			w.stopPod(tp.Key())
			rt = nil
			changed = true
		}
		if rt == nil && id != 0 {
			w.startPod(tp, pp)
			changed = true
		}
	}
	for key := range w.pods {
		if !want[key] {
			w.stopPod(key)
			changed = true
		}
	}
	// What users said about a pod ends with it: a later pod of the same
	// (generated) name is a new object.
	n := len(w.marks.Ready) + len(w.marks.Terminating)
	maps.DeleteFunc(w.marks.Ready, func(key string, _ bool) bool { return !want[key] })
	maps.DeleteFunc(w.marks.Terminating, func(key string, _ time.Time) bool { return !want[key] })
	if len(w.marks.Ready)+len(w.marks.Terminating) != n {
		w.saveMarks()
	}
	return changed
}

func (w *world) planPod(key string) (plan.Pod, bool) {
	if w.byKey == nil {
		w.byKey = map[string]plan.Pod{}
		for _, p := range w.st.Plan.Pods {
			w.byKey[p.Key()] = p
		}
	}
	p, ok := w.byKey[key]
	return p, ok
}

func (w *world) startPod(tp topology.Pod, pp plan.Pod) {
	var err error
	rt := &podRT{netns: pp.Netns, id: kernel.NetnsID(pp.Netns), probed: true}
	w.pods[tp.Key()] = rt
	log.Printf("pod %s started on %s (%s)", tp.Key(), pp.Node, pp.IP.Addr())
	if argv, ok := workload.ParseRun(tp.Pod); ok {
		rt.cmd, err = w.podCommand(tp, argv)
		if err == nil {
			err = kernel.StartIn(pp.Netns, rt.cmd)
		}
		if err != nil {
			rt.err = err.Error()
			log.Printf("pod %s: kinn.dev/run: %v", tp.Key(), err)
		} else {
			go w.waitProgram(tp.Key(), rt)
		}
	} else {
		ports := workload.PortsOf(tp.Pod)
		if topology.IsDNSPod(tp.Pod) {
			ports = nonDNSPorts(ports)
			if rt.dns, err = w.startDNS(pp.Netns); err != nil {
				rt.err = err.Error()
				log.Printf("pod %s: dns: %v", tp.Key(), err)
			}
		}
		srv, err := workload.Start(kernel.Do, pp.Netns, workload.PodInfoOf(tp.Pod, pp.IP.Addr()), ports)
		if err != nil {
			rt.err = err.Error()
			log.Printf("pod %s: servers: %v", tp.Key(), err)
		}
		rt.server = srv
	}
	if pr := workload.NewProbe(tp.Pod, pp.IP.Addr()); pr != nil {
		rt.probed, rt.probe = false, pr
		ctx, cancel := context.WithCancel(context.Background())
		rt.stop = cancel
		key := tp.Key()
		rt.events = &probeEvents{pod: key}
		pr.Failed = rt.events.failed
		// kubelet probes from the node: dial from the node's namespace
		// (with "tcp", so the error reads as kubelet's: "dial tcp ...").
		go pr.Run(ctx, workload.DialIn(kernel.Do, pp.NodeNetns), func(ready bool) {
			if ctx.Err() == nil {
				w.probeChanged(key, rt, ready)
			}
		})
	}
}

// podCommand is a kinn.dev/run program as it runs in its pod: with the
// pod's hostname, resolv.conf and hosts, in a PID namespace of its own, as
// the user its securityContext names (else nobody), with the capabilities
// it adds and no other, on a read-only view of the host's filesystem that
// hides every network namespace and kinn's own directories.
func (w *world) podCommand(tp topology.Pod, argv []string) (*exec.Cmd, error) {
	v, err := w.st.PodView(tp.Key())
	if err != nil {
		return nil, err
	}
	uid, gid := workload.RunAs(tp.Pod)
	caps, privileged := workload.Capabilities(tp.Pod)
	v.Confine = &kernel.Confinement{
		UID: uint32(uid), GID: uint32(gid), Caps: caps, Privileged: privileged,
		Hide:    []string{w.o.StateDir(""), w.o.RuntimeDir("")},
		WorkDir: workload.WorkingDir(tp.Pod),
	}
	cmd, err := v.Command(argv)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = log.Writer(), log.Writer()
	// The program carries its lab in its environment, so `kinn down`
	// finds it (its PID namespace's init, kinn, and the program) even if
	// the lab process died without stopping it.
	cmd.Env = append(os.Environ(), labEnv(w.o, w.name)...)
	cmd.SysProcAttr.Setpgid = true // stopped as a group
	return cmd, nil
}

// refreshViews rewrites the files running programs see (a pod's address
// in its /etc/hosts changes with a reattach); unchanged files stay as are.
func (w *world) refreshViews() {
	for key, rt := range w.pods {
		if rt.cmd == nil {
			continue
		}
		if _, err := w.st.PodView(key); err != nil {
			log.Printf("pod %s: %v", key, err)
		}
	}
}

func (w *world) stopPod(key string) {
	rt := w.pods[key]
	delete(w.pods, key)
	if rt == nil {
		return
	}
	log.Printf("pod %s stopped", key)
	if rt.stop != nil {
		rt.stop()
	}
	if rt.server != nil {
		rt.server.Stop()
	}
	if rt.dns != nil {
		rt.dns.Shutdown(context.Background())
	}
	if rt.cmd != nil && rt.cmd.Process != nil {
		// The group's leader is the program's PID namespace's init: with
		// it the kernel kills whatever the program left, detached or not.
		syscall.Kill(-rt.cmd.Process.Pid, syscall.SIGKILL)
	}
}

// probeChanged is called from a probe's goroutine.
// rt is the pod it probed: a verdict that arrives after the pod was
// replaced under the same name is dropped.
func (w *world) probeChanged(key string, rt *podRT, ready bool) {
	w.locker.Lock()
	defer w.locker.Unlock()
	if w.pods[key] == rt {
		rt.probed = ready
		log.Printf("pod %s: readiness probe says ready=%v", key, ready)
		if err := w.syncServices(); err != nil {
			log.Printf("sync services: %v", err)
		}
	}
}

// waitProgram notes a pod program's exit: the pod is no longer ready (kubelet
// would restart it; kinn shows why instead).
func (w *world) waitProgram(key string, rt *podRT) {
	err := rt.cmd.Wait()
	w.locker.Lock()
	defer w.locker.Unlock()
	if w.pods[key] != rt {
		return // stopped on purpose
	}
	rt.err = fmt.Sprintf("kinn.dev/run program exited: %v", err)
	if err == nil {
		rt.err = "kinn.dev/run program exited"
	}
	log.Printf("pod %s: %s", key, rt.err)
	if err := w.syncServices(); err != nil {
		log.Printf("sync services: %v", err)
	}
}

// ready is a pod's readiness: running, its probe's verdict, and no
// `kinn ready POD false` in force.
func (w *world) ready(key string) bool {
	rt := w.pods[key]
	if rt == nil || rt.err != "" {
		return false
	}
	if forced, ok := w.marks.Ready[key]; ok && !forced {
		return false
	}
	return rt.probed
}

func (w *world) status() *Status {
	s := &Status{Pods: map[string]PodStatus{}}
	for key, rt := range w.pods {
		_, term := w.marks.Terminating[key]
		forced, ok := w.marks.Ready[key]
		ps := PodStatus{Running: rt.err == "", Ready: w.ready(key), Terminating: term, Reason: rt.err, Forced: ok && !forced}
		if rt.probe != nil {
			ps.Probes = rt.probe.Results()
		}
		s.Pods[key] = ps
	}
	return s
}
