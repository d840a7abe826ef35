package lab

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

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
	return EditLocked(ctx, o, name, change)
}

// EditLocked is Edit for a caller that holds the lab's lock (Lock).
func EditLocked(ctx context.Context, o Options, name string, change func(raw []byte, file string) ([]byte, error)) (*Result, error) {
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
	return up(ctx, o, Source{Lab: t, Raw: next, Path: string(path), edit: true})
}
