package lab

import (
	"context"
	"errors"
	"os"
	"slices"

	"kinn.dev/kinn/lab/kernel"
)

// Down removes everything a lab created: pods are detached through CNI
// where the lab's record allows (so plugins free what they hold), then every
// namespace carrying the lab's prefix goes, then its state and runtime
// directories. It works without the record too — after a kill or a lost
// state directory — by finding the lab's namespaces by name.
func Down(ctx context.Context, o Options, name string) error {
	unlock, err := lock(o, name)
	if err != nil {
		return err
	}
	defer unlock()
	return DownLocked(ctx, o, name)
}

// DownLocked is Down for a caller that holds the lab's lock (Lock).
func DownLocked(ctx context.Context, o Options, name string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	if err := CheckOwner(o, name); err != nil {
		return err
	}
	dir := o.StateDir(name)
	var errs []error
	if p := loadPlan(dir); p != nil {
		rt := runtime(dir, recordedChain(o, name))
		defer rt.Log.Close()
		if _, err := teardownPods(ctx, o, rt, p, p.Pods); err != nil {
			errs = append(errs, err)
		}
	}
	pods, nodes, other, err := namespaces(name)
	if err != nil {
		return err
	}
	for _, ns := range slices.Concat(pods, nodes, other) {
		if err := kernel.DeleteNetns(ns); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err // keep the state so that a second down can retry
	}
	o = o.withDefaults()
	for _, d := range [][2]string{{o.StateRoot, dir}, {o.RuntimeRoot, o.RuntimeDir(name)}} {
		if err := childOf(d[0], d[1]); err != nil {
			return err
		}
		if err := os.RemoveAll(d[1]); err != nil {
			return err
		}
	}
	// The roots go too once the last lab is down (Remove fails if not empty).
	os.Remove(o.StateRoot)
	os.Remove(o.RuntimeRoot)
	kernel.RemoveNetnsDirIfEmpty()
	return nil
}
