package daemon

import (
	"context"
	"fmt"
	"log"
	"strings"
	"time"

	"kinn.dev/kinn/lab"
	"kinn.dev/kinn/topology"
)

func errNoPod(key string) error {
	ns, name, _ := strings.Cut(key, "/")
	return fmt.Errorf("pod %q %w in namespace %q", name, lab.ErrNotFound, ns)
}

// deletePod starts a pod's termination: it keeps serving, but as a
// terminating endpoint (serving, not ready), until its grace period ends.
// grace < 0 takes the pod's terminationGracePeriodSeconds (default 30).
func (w *world) deletePod(key string, grace int64) error {
	tp, ok := w.topoPod(key)
	if !ok {
		return errNoPod(key)
	}
	if grace < 0 {
		grace = 30
		if g := tp.Pod.Spec.TerminationGracePeriodSeconds; g != nil {
			grace = *g
		}
	}
	w.marks.Terminating[key] = time.Now().Add(time.Duration(grace) * time.Second)
	if err := w.saveMarks(); err != nil {
		return err
	}
	if grace == 0 {
		return w.expire()
	}
	return w.syncServices()
}

func (w *world) topoPod(key string) (topology.Pod, bool) {
	for _, p := range w.st.Topology.Pods {
		if p.Key() == key {
			return p, true
		}
	}
	return topology.Pod{}, false
}

// expire removes pods whose grace period is over. A bare pod leaves the
// topology; a workload's pod is replaced, as its controller would do.
func (w *world) expire() error {
	now := time.Now()
	var due []string
	for key, t := range w.marks.Terminating {
		if !now.Before(t) {
			due = append(due, key)
		}
	}
	if len(due) == 0 {
		return nil
	}
	for _, key := range due {
		tp, ok := w.topoPod(key)
		delete(w.marks.Terminating, key)
		delete(w.marks.Ready, key)
		if !ok {
			continue
		}
		w.stopPod(key)
		var err error
		if tp.Owner == "" {
			_, err = lab.Edit(context.Background(), w.o, w.name, func(raw []byte, _ string) ([]byte, error) {
				return topology.Delete(raw, "pod", tp.Namespace, tp.Name)
			})
		} else {
			err = lab.RestartPod(context.Background(), w.o, w.name, key)
		}
		if err != nil {
			log.Printf("remove terminated pod %s: %v", key, err)
		} else {
			log.Printf("pod %s terminated", key)
		}
	}
	if err := w.saveMarks(); err != nil {
		return err
	}
	return w.reconcile(true)
}
