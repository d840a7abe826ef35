package lab

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"kinn.dev/kinn/lab/cni"
	"kinn.dev/kinn/lab/plan"
	"kinn.dev/kinn/topology"
)

// Edit changes a running lab's recorded topology and converges the lab to
// it, all under the lab's lock: change gets the recorded YAML and returns
// the new one (or an error, and then nothing changes). The result must
// still parse; a change that breaks it is refused as a whole.
func Edit(ctx context.Context, o Options, name string, change func(raw []byte, file string) ([]byte, error)) (*Result, error) {
	unlock, err := lock(o, name)
	if err != nil {
		return nil, err
	}
	defer unlock()
	dir := o.StateDir(name)
	raw, err := os.ReadFile(filepath.Join(dir, fileTopology))
	if err != nil {
		return nil, fmt.Errorf("lab %q does not exist: bring it up with `kinn up`", name)
	}
	path, _ := os.ReadFile(filepath.Join(dir, fileSource))
	next, err := change(raw, string(path))
	if err != nil {
		return nil, err
	}
	t, _, err := topology.Parse(string(path), next)
	if err != nil {
		return nil, err
	}
	t.Name = name
	return up(ctx, o, Source{Lab: t, Raw: next, Path: string(path)})
}

// RestartPod replaces a workload's pod: its namespace goes (CNI DEL after)
// and the lab converges, creating it afresh with the same name and address.
func RestartPod(ctx context.Context, o Options, name, key string) error {
	unlock, err := lock(o, name)
	if err != nil {
		return err
	}
	defer unlock()
	st, err := Load(o, name)
	if err != nil {
		return err
	}
	for _, p := range st.Plan.Pods {
		if p.Key() == key {
			rt := &cni.Runtime{CacheDir: filepath.Join(o.StateDir(name), dirCNI)}
			if _, err := teardownPods(ctx, o, rt, st.Plan, []plan.Pod{p}); err != nil {
				return err
			}
		}
	}
	raw, err := os.ReadFile(filepath.Join(o.StateDir(name), fileTopology))
	if err != nil {
		return err
	}
	path, _ := os.ReadFile(filepath.Join(o.StateDir(name), fileSource))
	st.Topology.Name = name
	_, err = up(ctx, o, Source{Lab: st.Topology, Raw: raw, Path: string(path)})
	return err
}
