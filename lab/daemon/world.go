package daemon

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"kinn.dev/kinn/lab"
	"kinn.dev/kinn/lab/dns"
	"kinn.dev/kinn/lab/ipam"
	"kinn.dev/kinn/lab/plan"
)

// world is the lab as the lab process keeps it running.
type world struct {
	o      lab.Options
	name   string
	locker *sync.Mutex // the daemon's lock, for callbacks from goroutines
	st     *lab.State
	byKey  map[string]plan.Pod // the plan's pods, indexed once per load
	pods   map[string]*podRT
	marks  marks
	proxy  *proxies
	policy *policies
	zone   *dns.Zone // what the DNS pods answer
	api    apiServers
	// repaired is what the last reload found changed by hand in the
	// proxy tables and put back, for the command that asked for it.
	repaired []string
}

// marks are what users said about pods, kept in the state directory so a
// restarted lab process honours them.
type marks struct {
	Ready       map[string]bool      `json:"ready"`       // `kinn ready POD false`
	Terminating map[string]time.Time `json:"terminating"` // deleted pods: when they go
}

const fileMarks = "marks.json"

func newWorld(o lab.Options, name string, locker *sync.Mutex) *world {
	w := &world{o: o, name: name, locker: locker, pods: map[string]*podRT{}}
	w.marks = marks{Ready: map[string]bool{}, Terminating: map[string]time.Time{}}
	w.proxy = newProxies(os.Getenv(EnvProxyRepair))
	w.policy = newPolicies()
	return w
}

func (w *world) close() {
	for key := range w.pods {
		w.stopPod(key)
	}
	w.proxy.close()
	w.policy.closeAll()
	w.api.close()
}

// reconcile converges the lab's servers, endpoints and proxies; reload
// re-reads the recorded state first.
func (w *world) reconcile(reload bool) error {
	if reload || w.st == nil {
		st, err := lab.Load(w.o, w.name)
		if err != nil {
			return err
		}
		w.st, w.byKey = st, nil
		w.loadMarks()
		w.refreshViews()
	}
	w.api.sync(w.st.Plan, w.st.Topology)
	changed := w.syncPods()
	proxyOn := w.st.Topology.Networking.KubeProxyMode != "none"
	// Policies first: a failing proxy must not leave them unenforced.
	var policyErr error
	if reload || changed || w.policy.recreated(w.st.Plan.Nodes) {
		policyErr = w.syncPolicies()
	}
	if reload || changed || (proxyOn && w.proxy.recreated(w.st.Plan.Nodes)) {
		if err := w.syncServices(); err != nil {
			return errors.Join(policyErr, err)
		}
	}
	// Every second, or only when asked (`kinn up`) in manual mode: a
	// table whose namespace's ruleset generation moved since kinn last
	// knew it right is compared in full and repaired.
	if reload || w.proxy.auto {
		lines, err := w.proxy.repair(w.st.Plan.Nodes)
		plines, perr := w.policy.repair(w.st.Plan.Nodes)
		if reload {
			w.repaired = append(lines, plines...)    // for the command that asked
			return errors.Join(policyErr, err, perr) // its verdict: a table left wrong is a failure
		}
	}
	return policyErr
}

func (w *world) loadMarks() {
	b, err := os.ReadFile(filepath.Join(w.o.StateDir(w.name), fileMarks))
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err == nil {
		json.Unmarshal(b, &w.marks)
	}
	if w.marks.Ready == nil {
		w.marks.Ready = map[string]bool{}
	}
	if w.marks.Terminating == nil {
		w.marks.Terminating = map[string]time.Time{}
	}
}

func (w *world) saveMarks() error {
	b, err := json.Marshal(w.marks)
	if err != nil {
		return err
	}
	return ipam.WriteFileAtomic(filepath.Join(w.o.StateDir(w.name), fileMarks), b)
}

// setReady records `kinn ready` for a pod and re-syncs the services.
func (w *world) setReady(key string, ready bool) error {
	if _, ok := w.planPod(key); !ok {
		return errNoPod(key)
	}
	if ready {
		delete(w.marks.Ready, key)
	} else {
		w.marks.Ready[key] = false
	}
	if err := w.saveMarks(); err != nil {
		return err
	}
	return w.syncServices()
}
