package conformance

import (
	"context"
	"path/filepath"
	"slices"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/version"
)

// gcScenario attaches two containers and runs GC three times: with both
// valid (nothing may change), with one valid after the other's namespace
// went (the valid one must keep working; the stale one's resources should
// go), and with none valid. The last two use a runtime that has no cached
// results, so libcni sends no DEL first and the plugins' GC does the work.
// The DELs the runtime still owes afterwards must succeed.
func (r *run) gcScenario(ctx context.Context) error {
	const valid, none = "GC with valid attachments", "GC without valid attachments"
	if ok, _ := version.GreaterThanOrEqualTo(r.list.CNIVersion, "1.1.0"); !ok || r.list.DisableGC {
		r.rep.add(valid, specGCValid, Skip, "cniVersion "+r.list.CNIVersion+" has no GC, or disableGC")
		r.rep.add(none, specGCStale, Skip, "cniVersion "+r.list.CNIVersion+" has no GC, or disableGC")
		return nil
	}
	e, err := r.attachment()
	if err != nil {
		return err
	}
	f, err := r.attachment()
	if err != nil {
		return err
	}
	before, err := r.state()
	if err != nil {
		return err
	}
	if _, err := r.cni.AddNetworkList(ctx, r.list, e.rt); err != nil {
		return r.gcSkip(ctx, "ADD failed: "+err.Error(), e)
	}
	withE, err := r.state()
	if err != nil {
		return err
	}
	if _, err := r.cni.AddNetworkList(ctx, r.list, f.rt); err != nil {
		return r.gcSkip(ctx, "ADD failed: "+err.Error(), e, f)
	}
	both, err := r.state()
	if err != nil {
		return err
	}
	var p, stale problems
	p.err("GC with both valid", r.cni.GCNetworkList(ctx, r.list, gcArgs(e, f)))
	if now, err := r.state(); err != nil {
		p.err("reading the node after GC", err)
	} else if !slices.Equal(now, both) {
		p.addf("GC changed the node though every attachment was valid: removed %s, added %s",
			summary(diffLines(now, both)), summary(diffLines(both, now)))
	}
	r.check(ctx, &p, "after GC with both valid", e, f)
	if err := r.gone(f); err != nil {
		return err
	}
	forgetful := r.config(filepath.Join(r.dir, "gc-cache"))
	p.err("GC with one valid", forgetful.GCNetworkList(ctx, r.list, gcArgs(e)))
	r.check(ctx, &p, "after GC that kept it", e)
	if now, err := r.state(); err != nil {
		p.err("reading the node after GC", err)
	} else {
		if lost := diffLines(now, withE); len(lost) > 0 {
			p.addf("GC removed %s of the valid attachment", summary(lost))
		}
		if left := diffLines(withE, now); len(left) > 0 {
			stale.addf("GC left %s of the stale attachment", summary(left))
		}
	}
	r.rep.judge(valid, specGCValid, p, "valid attachments kept, CHECK passes")
	if err := r.gone(e); err != nil {
		return err
	}
	var q problems
	q.err("GC with none valid", forgetful.GCNetworkList(ctx, r.list, gcArgs()))
	if now, err := r.state(); err != nil {
		q.err("reading the node after GC", err)
	} else {
		if left := diffLines(before, now); len(left) > 0 {
			stale.addf("GC of no valid attachments left %s", summary(left))
		}
	}
	q.err("DEL after GC", r.cni.DelNetworkList(ctx, r.list, e.rt))
	q.err("DEL after GC", r.cni.DelNetworkList(ctx, r.list, f.rt))
	if len(q) > 0 {
		r.rep.judge(none, specGCStale, append(q, stale...), "")
	} else {
		r.rep.should(none, specGCStale, stale, "stale attachments freed; DEL after GC succeeds")
	}
	r.leftover("GC, then DEL", before)
	return nil
}

func gcArgs(as ...*attachment) *libcni.GCArgs {
	args := &libcni.GCArgs{ValidAttachments: []types.GCAttachment{}}
	for _, a := range as {
		args.ValidAttachments = append(args.ValidAttachments, types.GCAttachment{ContainerID: a.rt.ContainerID, IfName: a.rt.IfName})
	}
	return args
}

// check CHECKs attachments where the version and list allow it.
func (r *run) check(ctx context.Context, p *problems, when string, as ...*attachment) {
	if r.list.DisableCheck {
		return
	}
	for _, a := range as {
		p.err("CHECK "+when, r.cni.CheckNetworkList(ctx, r.list, a.rt))
	}
}

func (r *run) gcSkip(ctx context.Context, why string, as ...*attachment) error {
	for _, a := range as {
		r.cni.DelNetworkList(ctx, r.list, a.rt)
	}
	r.rep.add("GC with valid attachments", specGCValid, Skip, why)
	r.rep.add("GC without valid attachments", specGCStale, Skip, why)
	return nil
}
