package daemon

import (
	"kinn.dev/kinn/lab"
)

// world is the lab as the lab process keeps it running.
type world struct {
	o    lab.Options
	name string
	st   *lab.State
}

func newWorld(o lab.Options, name string) *world { return &world{o: o, name: name} }

func (w *world) close() {}

func (w *world) reconcile(reload bool) error {
	if reload || w.st == nil {
		st, err := lab.Load(w.o, w.name)
		if err != nil {
			return err
		}
		w.st = st
	}
	return nil
}

func (w *world) status() *Status { return &Status{Pods: map[string]PodStatus{}} }
