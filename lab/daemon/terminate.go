package daemon

import (
	"context"
	"errors"
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
	// As in Kubernetes, deleting again can shorten the grace period, never
	// lengthen it.
	deadline := time.Now().Add(time.Duration(grace) * time.Second)
	old, again := w.marks.Terminating[key]
	if again && old.Before(deadline) {
		deadline = old
	}
	if tp.Owner != "" && !again {
		// Its controller replaces it now, under a new name.
		if err := lab.RetirePod(context.Background(), w.o, w.name, key, deadline); err != nil {
			return err
		}
	}
	w.marks.Terminating[key] = deadline
	if err := w.saveMarks(); err != nil {
		return err
	}
	if grace == 0 {
		return w.expire()
	}
	return w.reconcile(true)
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
	var errs []error
	for _, key := range due {
		tp, ok := w.topoPod(key)
		if !ok {
			delete(w.marks.Terminating, key)
			delete(w.marks.Ready, key)
			continue
		}
		w.stopPod(key)
		var err error
		if tp.Owner == "" {
			_, err = lab.Edit(context.Background(), w.o, w.name, func(raw []byte, _ string) ([]byte, error) {
				return topology.Delete(raw, "pod", tp.Namespace, tp.Name)
			})
		} else {
			err = lab.ExpireRetired(context.Background(), w.o, w.name, key)
		}
		if err != nil {
			// Keep its marks: the next tick tries again, and meanwhile it
			// stays terminating instead of coming back as a ready pod.
			log.Printf("remove terminated pod %s: %v", key, err)
			errs = append(errs, fmt.Errorf("remove terminated pod %s: %w", key, err))
			continue
		}
		delete(w.marks.Terminating, key)
		delete(w.marks.Ready, key)
		log.Printf("pod %s terminated", key)
	}
	if err := w.saveMarks(); err != nil {
		return err
	}
	return errors.Join(append(errs, w.reconcile(true))...)
}
