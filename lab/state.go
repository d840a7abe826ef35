package lab

import (
	corev1 "k8s.io/api/core/v1"

	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"kinn.dev/kinn/lab/cni"
	"kinn.dev/kinn/lab/ipam"
	"kinn.dev/kinn/lab/plan"
	"kinn.dev/kinn/lab/service"
	"kinn.dev/kinn/topology"
)

// Files in a lab's state directory.
const (
	fileTopology = "topology.yaml" // the topology as last brought up
	fileSource   = "source"        // the path it came from
	filePlan     = "plan.json"     // the desired state as last computed
	fileIPAM     = "ipam.json"
	dirCNI       = "cni"
	fileServices = "services.json"   // ClusterIP and node port allocations
	fileCNILog   = "cni-calls.jsonl" // every plugin call, newest last
)

// State is what a lab is, as recorded by its last `up`.
type State struct {
	Topology *topology.Lab
	Plan     *plan.Lab
	Services []*corev1.Service // with ClusterIPs and node ports filled in
	o        Options
	// netnsExists stands in for Live in tests of the pure views.
	netnsExists func(netns string) bool
}

// Load reads a lab's recorded state.
func Load(o Options, name string) (*State, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	dir := o.StateDir(name)
	src, err := os.ReadFile(filepath.Join(dir, fileTopology))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("lab %q does not exist (no %s): bring it up with `kinn up`", name, dir)
	}
	if err != nil {
		return nil, err
	}
	srcName, _ := os.ReadFile(filepath.Join(dir, fileSource))
	b, err := os.ReadFile(filepath.Join(dir, filePlan))
	if err != nil {
		return nil, err
	}
	var p plan.Lab
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("read %s: %w", filePlan, err)
	}
	t, err := resolveAgain(dir, Source{Lab: &topology.Lab{Name: name}, Raw: src, Path: string(srcName)}, &p)
	if err != nil {
		return nil, fmt.Errorf("recorded topology of lab %s: %w", name, err)
	}
	alloc, err := service.FileStore{Path: filepath.Join(dir, fileServices)}.Load()
	if err != nil {
		return nil, err
	}
	return &State{Topology: t, Plan: &p, Services: service.Apply(t.Services, alloc), o: o}, nil
}

// resolveAgain resolves a topology with the placement of a lab's pods as
// last planned, keeping the lab's name (which --name may have set).
func resolveAgain(dir string, src Source, p *plan.Lab) (*topology.Lab, error) {
	live := topology.Live{Placed: map[string]string{}, Retired: map[string]bool{}}
	for _, pod := range p.Pods {
		live.Placed[pod.Key()] = pod.Node
	}
	ret, err := loadRetired(dir)
	if err != nil {
		return nil, err
	}
	for _, key := range ret.Names {
		live.Retired[key] = true
	}
	t, _, err := topology.ParseLive(src.Path, src.Raw, live)
	if err != nil {
		return nil, err
	}
	t.Name = src.Lab.Name
	t.Pods = append(t.Pods, ret.stillTerminating(t)...)
	return t, nil
}

func loadPlan(dir string) *plan.Lab {
	b, err := os.ReadFile(filepath.Join(dir, filePlan))
	if err != nil {
		return nil
	}
	var p plan.Lab
	if json.Unmarshal(b, &p) != nil {
		return nil
	}
	return &p
}

func savePlan(dir string, p *plan.Lab) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	return ipam.WriteFileAtomic(filepath.Join(dir, filePlan), b)
}

// defaultLockWait is how long a command waits for another's lock.
const defaultLockWait = 5 * time.Second

func fstat(f *os.File) os.FileInfo {
	st, _ := f.Stat()
	return st
}

func pathStat(p string) os.FileInfo {
	st, _ := os.Stat(p)
	return st
}

// Lock takes the lab's lock, for a command that changes the lab as a whole:
// the CLI holds it from before it reads the lab's record until the lab
// process has the result, so that an up and a down never interleave (Up,
// Down and Edit take it themselves; UpLocked, DownLocked and EditLocked
// expect it held). The lab process never waits for it: a command holding
// it may be waiting for the lab process.
func Lock(o Options, name string) (unlock func(), err error) { return lock(o, name) }

// lock takes the lab's lock for the whole of an up or down, so two never
// touch one lab at once (CNI forbids parallel operations on a container).
func lock(o Options, name string) (unlock func(), err error) {
	if err := CheckName(name); err != nil {
		return nil, err // the lock's directory is made from the name
	}
	dir := o.RuntimeDir(name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	// Wait a little: a kinn just killed may take a moment to release it.
	wait := o.LockWait
	if wait == 0 {
		wait = defaultLockWait
	}
	deadline := time.Now().Add(wait)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			// down removes the directory under the lock: a lock on a file
			// that no longer has its name locks nothing. Start over.
			if a, b := fstat(f), pathStat(f.Name()); a == nil || b == nil || !os.SameFile(a, b) {
				f.Close()
				return lock(o, name)
			}
			return func() { leaveNoTrace(o, name, f); f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) || time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("lab %s is busy: another kinn command holds %s (%v); try again", name, f.Name(), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// leaveNoTrace removes, while the lock is still held, the lock file and the
// directories lock made for a lab that has no record: a command that named
// a lab that does not exist (`kinn scale --name typo`) must not leave a
// lab behind for List to find. A waiter on the removed file starts over.
func leaveNoTrace(o Options, name string, f *os.File) {
	if _, err := os.Stat(o.StateDir(name)); !errors.Is(err, fs.ErrNotExist) {
		return
	}
	os.Remove(f.Name())
	os.Remove(o.RuntimeDir(name)) // only if nothing else is in it
	os.Remove(o.withDefaults().RuntimeRoot)
}

// runtime is the lab's CNI runtime: the nodes' directories (result cache,
// host-local's reservations), the plugin chain and the call log.
func runtime(dir string, chain *cni.Chain) *cni.Runtime {
	return &cni.Runtime{Dir: filepath.Join(dir, dirCNI), Chain: chain, Log: &cni.CallLog{Path: filepath.Join(dir, fileCNILog)}}
}

// CNICalls reads the lab's CNI call log, newest first.
func CNICalls(o Options, name string) ([]cni.Call, error) {
	return cni.ReadCalls(CNILogPath(o, name))
}

// CNILogPath is the lab's CNI call log: the terminal UI reads it again
// only when it changed.
func CNILogPath(o Options, name string) string { return filepath.Join(o.StateDir(name), fileCNILog) }

// Recorded is the lab's topology as recorded, with every live change since
// (apply, scale, delete): what `kinn up` without a file converges the lab
// to. It is nil, with no error, for a lab that has no record.
func Recorded(o Options, name string) (*Source, []topology.Warning, error) {
	if err := CheckName(name); err != nil {
		return nil, nil, err
	}
	dir := o.StateDir(name)
	raw, err := os.ReadFile(filepath.Join(dir, fileTopology))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	path, _ := os.ReadFile(filepath.Join(dir, fileSource)) // as Load: an up killed between the two writes
	t, warns, err := topology.Parse(string(path), raw)
	if err != nil {
		return nil, warns, fmt.Errorf("recorded topology of lab %s: %w", name, err)
	}
	t.Name = name
	return &Source{Lab: t, Raw: raw, Path: string(path)}, warns, nil
}

// Exists reports whether anything of the lab is on the machine: its state
// or runtime directory, or a namespace with its prefix.
func Exists(o Options, name string) (bool, error) {
	if err := CheckName(name); err != nil {
		return false, err
	}
	for _, dir := range []string{o.StateDir(name), o.RuntimeDir(name)} {
		if _, err := os.Stat(dir); err == nil {
			return true, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return false, err
		}
	}
	pods, nodes, other, err := namespaces(name)
	return len(pods)+len(nodes)+len(other) > 0, err
}

// Preview is what bringing src up would change in its lab's desired state:
// the recorded topology against src, both resolved with the lab's live
// placement, as up will resolve src. ok is false for a lab that has no
// record (everything would be new).
func Preview(o Options, src Source) (_ topology.Changes, ok bool, _ error) {
	dir := o.StateDir(src.Lab.Name)
	rec, _, err := Recorded(o, src.Lab.Name)
	if err != nil || rec == nil {
		return nil, false, err
	}
	p := loadPlan(dir)
	if p == nil {
		return nil, false, nil // killed before its first plan: nothing runs yet
	}
	from, err := resolveAgain(dir, *rec, p)
	if err != nil {
		return nil, false, err
	}
	to, err := resolveAgain(dir, src, p)
	if err != nil {
		return nil, false, err
	}
	return topology.Diff(from, to), true, nil
}
