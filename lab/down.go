package lab

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"

	"kinn.dev/kinn/lab/cni"
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
	dir := o.StateDir(name)
	var errs []error
	if p := loadPlan(dir); p != nil {
		rt := &cni.Runtime{CacheDir: filepath.Join(dir, dirCNI)}
		for _, pod := range p.Pods {
			n := findNode(p, pod.Node)
			if n == nil || !kernel.NetnsExists(n.Netns) || !kernel.NetnsExists(pod.Netns) {
				continue
			}
			if err := rt.Del(ctx, *n, pod); err != nil {
				// A broken plugin must not keep a lab alive: its veth goes
				// with the namespace anyway.
				o.progress("  warning: %v", err)
			}
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
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	return os.RemoveAll(o.RuntimeDir(name))
}
