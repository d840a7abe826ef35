package lab

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"

	"kinn.dev/kinn/lab/ipam"
	"kinn.dev/kinn/topology"
)

// A deleted workload pod is replaced at once, under a new name, while the
// old one keeps serving as a terminating endpoint until its grace period
// ends — as a ReplicaSet and kubelet do. The lab records both facts: the
// retired name (never generated again, or the replacement would be renamed
// back), and the old pod itself until it is gone.
const fileRetired = "retired.json"

type retired struct {
	Names       []string         `json:"names"`
	Terminating []terminatingPod `json:"terminating,omitempty"`
}

type terminatingPod struct {
	Pod      *corev1.Pod `json:"pod"`
	Node     string      `json:"node"`
	Owner    string      `json:"owner"`
	Deadline time.Time   `json:"deadline"`
}

func loadRetired(dir string) (retired, error) {
	return ipam.ReadJSON[retired](filepath.Join(dir, fileRetired))
}

// stillTerminating lists the old pods that stay until their grace period
// ends, on nodes the lab still has.
func (r retired) stillTerminating(t *topology.Lab) []topology.Pod {
	var out []topology.Pod
	for _, tp := range r.Terminating {
		if slices.ContainsFunc(t.Nodes, func(n topology.Node) bool { return n.Name == tp.Node }) {
			out = append(out, topology.Pod{Namespace: tp.Pod.Namespace, Name: tp.Pod.Name, Node: tp.Node, Owner: tp.Owner, Pod: tp.Pod})
		}
	}
	return out
}

// RetirePod deletes a workload's pod the Kubernetes way: its controller's
// replacement comes up now under a new name, and the old pod stays, to
// terminate, until deadline. The caller marks it terminating.
func RetirePod(ctx context.Context, o Options, name, key string, deadline time.Time) error {
	return changeRetired(ctx, o, name, func(r *retired, st *State) error {
		for _, tp := range st.Topology.Pods {
			if tp.Key() == key && tp.Owner != "" {
				r.Names = append(r.Names, key)
				r.Terminating = append(r.Terminating, terminatingPod{Pod: tp.Pod, Node: tp.Node, Owner: tp.Owner, Deadline: deadline})
				return nil
			}
		}
		return fmt.Errorf("pod %s is not a workload's pod of lab %s", key, name)
	})
}

// ExpireRetired removes a retired pod whose grace period is over (the lab
// process keeps the clock: a second delete may have shortened it).
func ExpireRetired(ctx context.Context, o Options, name, key string) error {
	return changeRetired(ctx, o, name, func(r *retired, _ *State) error {
		r.Terminating = slices.DeleteFunc(r.Terminating, func(tp terminatingPod) bool {
			return tp.Pod.Namespace+"/"+tp.Pod.Name == key
		})
		return nil
	})
}

// changeRetired edits the record under the lab's lock and converges.
func changeRetired(ctx context.Context, o Options, name string, change func(*retired, *State) error) error {
	unlock, err := lock(o, name)
	if err != nil {
		return err
	}
	defer unlock()
	st, err := Load(o, name)
	if err != nil {
		return err
	}
	dir := o.StateDir(name)
	r, err := loadRetired(dir)
	if err != nil {
		return err
	}
	if err := change(&r, st); err != nil {
		return err
	}
	if err := ipam.WriteJSON(filepath.Join(dir, fileRetired), r); err != nil {
		return err
	}
	raw, err := os.ReadFile(filepath.Join(dir, fileTopology))
	if err != nil {
		return err
	}
	path, _ := os.ReadFile(filepath.Join(dir, fileSource))
	t, _, err := topology.Parse(string(path), raw)
	if err != nil {
		return err
	}
	t.Name = name
	_, err = up(ctx, o, Source{Lab: t, Raw: raw, Path: string(path), edit: true})
	return err
}
