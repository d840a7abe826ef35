package conformance

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// Where SPEC.md (1.1.0) states what each clause checks.
const (
	specVersion   = "§2 VERSION, §5 Version"
	specStatus    = "§2 STATUS"
	specAdd       = "§2 ADD, §3 Adding an attachment"
	specResult    = "§5 ADD Success"
	specSandbox   = "§2 ADD: create CNI_IFNAME inside CNI_NETNS"
	specChain     = "§2 ADD: MUST handle prevResult; §5: output it with changes"
	specExisting  = "§2 ADD: interface exists → MUST return an error"
	specCheck     = "§2 CHECK"
	specDel       = "§2 DEL, §3 Deleting an attachment"
	specDelTwice  = "§2 DEL: MUST accept multiple DEL calls"
	specDelNever  = "§2 DEL: success if resources are missing, prevResult empty"
	specDelGone   = "§2 DEL: best effort even if the namespace no longer exists"
	specDelFailed = "§3 Lifecycle: a delete must follow even a failed add"
	specGCValid   = "§2 GC: cni.dev/valid-attachments are still valid"
	specGCStale   = "§2 GC: SHOULD remove stale resources"
	specErrShape  = "§5 Error: {code, msg, details}"
	specErrCodes  = "§5 Error: well-known codes 1, 4, 6"
	specVersions  = "§1 Version considerations"
	specCleanup   = "§2 DEL: release all resources"
)

// scenarios runs every scenario, then judges what they recorded.
func (r *run) scenarios(ctx context.Context) {
	steps := []struct {
		name string
		f    func(context.Context) error
	}{
		{"VERSION", r.versionScenario},
		{"STATUS", r.statusScenario},
		{"ADD, CHECK, DEL", r.mainScenario},
		{"DEL never added", r.delNeverAdded},
		{"DEL namespace gone", r.delNetnsGone},
		{"ADD existing interface", r.existingIface},
		{"GC", r.gcScenario},
		{"error codes", r.errorCodes},
		{"other cniVersions", r.otherVersions},
	}
	for _, s := range steps {
		if ctx.Err() != nil {
			return
		}
		r.progress("conformance: %s", s.name)
		if err := s.f(ctx); err != nil {
			r.rep.add(s.name, "", Fail, "the scenario could not run: "+err.Error())
		}
	}
	r.errorShape()
	r.cleanupClause()
}

// mainScenario runs the lifecycle at the list's own cniVersion, judging
// each step as a clause, then a second attachment: whatever it leaves in
// the node was its own, not state the chain shares between attachments.
func (r *run) mainScenario(ctx context.Context) error {
	var err error
	if r.empty, err = r.state(); err != nil {
		return err
	}
	a, err := r.attachment()
	if err != nil {
		return err
	}
	c := r.lifecycle(ctx, r.list, a)
	if r.baseline, err = r.state(); err != nil {
		return err
	}
	r.rep.judge("ADD", specAdd, c.add, "")
	if len(c.add) > 0 {
		for _, n := range []string{"ADD result", "ADD sandbox interface", "ADD prevResult chaining", "CHECK"} {
			r.rep.add(n, "", Skip, "ADD failed")
		}
	} else {
		r.rep.judge("ADD result", specResult, c.result, "every plugin's result parses and is consistent")
		r.rep.judge("ADD sandbox interface", specSandbox, c.sandbox, "")
		if c.chained {
			r.rep.judge("ADD prevResult chaining", specChain, c.chaining, "")
		} else {
			r.rep.add("ADD prevResult chaining", specChain, Skip, "one plugin: nothing is chained")
		}
		if c.checked {
			r.rep.judge("CHECK", specCheck, c.check, "")
		} else {
			r.rep.add("CHECK", specCheck, Skip, "cniVersion "+r.list.CNIVersion+" has no CHECK, or disableCheck")
		}
	}
	r.rep.judge("DEL", specDel, c.del, "")
	if len(c.add) > 0 {
		r.rep.add("DEL twice", specDelTwice, Skip, "ADD failed: the second DEL was not sent")
	} else {
		r.rep.judge("DEL twice", specDelTwice, c.del2, "")
	}
	b, err := r.attachment()
	if err != nil {
		return err
	}
	c2 := r.lifecycle(ctx, r.list, b)
	r.rep.judge("second attachment", specAdd, c2.all(), "ADD, CHECK, DEL of another container after the first was deleted")
	r.leftover("a second ADD and DEL", r.baseline)
	return nil
}

// delNeverAdded sends DEL for a container that never had an ADD.
func (r *run) delNeverAdded(ctx context.Context) error {
	a, before, err := r.fresh()
	if err != nil {
		return err
	}
	var p problems
	p.err("DEL", r.cni.DelNetworkList(ctx, r.list, a.rt))
	r.rep.judge("DEL never added", specDelNever, p, "")
	r.leftover("DEL of an attachment never added", before)
	return nil
}

// delNetnsGone deletes the container's namespace between ADD and DEL.
func (r *run) delNetnsGone(ctx context.Context) error {
	a, before, err := r.fresh()
	if err != nil {
		return err
	}
	var p problems
	if _, err := r.cni.AddNetworkList(ctx, r.list, a.rt); err != nil {
		r.rep.add("DEL namespace gone", specDelGone, Skip, "ADD failed: "+err.Error())
		r.cni.DelNetworkList(ctx, r.list, a.rt)
		return nil
	}
	if err := r.gone(a); err != nil {
		return err
	}
	p.err("DEL", r.cni.DelNetworkList(ctx, r.list, a.rt))
	r.rep.judge("DEL namespace gone", specDelGone, p, "")
	r.leftover("DEL after the namespace was gone", before)
	return nil
}

// existingIface ADDs a second container into a namespace whose CNI_IFNAME
// exists already: the plugin must refuse, and the DEL the runtime then
// owes the failed ADD must succeed.
func (r *run) existingIface(ctx context.Context) error {
	y, err := r.attachment()
	if err != nil {
		return err
	}
	x, before, err := r.fresh()
	if err != nil {
		return err
	}
	y.rt.NetNS = x.rt.NetNS
	if _, err := r.cni.AddNetworkList(ctx, r.list, x.rt); err != nil {
		r.rep.add("ADD existing interface", specExisting, Skip, "ADD failed: "+err.Error())
		r.rep.add("DEL after failed ADD", specDelFailed, Skip, "ADD failed: "+err.Error())
		r.cni.DelNetworkList(ctx, r.list, x.rt)
		return nil
	}
	var p, d problems
	if _, err := r.cni.AddNetworkList(ctx, r.list, y.rt); err == nil {
		p.addf("ADD of %s into a namespace that has %s already succeeded", y.rt.ContainerID, y.rt.IfName)
	}
	r.rep.judge("ADD existing interface", specExisting, p, "refused")
	d.err("DEL of the refused ADD", r.cni.DelNetworkList(ctx, r.list, y.rt))
	d.err("DEL of the first container", r.cni.DelNetworkList(ctx, r.list, x.rt))
	r.rep.judge("DEL after failed ADD", specDelFailed, d, "")
	r.leftover("ADD into an existing interface, then DEL", before)
	return nil
}

// cleanupClause judges what the scenarios left in the node. State the
// chain keeps for all its attachments (a bridge, a lock file) appears in
// the first attachment's cycle and is named, not failed.
func (r *run) cleanupClause() {
	if r.baseline == nil {
		r.rep.add("cleanup after DEL", specCleanup, Skip, "no attachment came and went")
		return
	}
	var p problems
	names := make([]string, 0, len(r.leaks))
	for n := range r.leaks {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p.addf("%s left %s", n, summary(r.leaks[n]))
	}
	note := "nothing left of any attachment"
	if shared := diffLines(r.empty, r.baseline); len(shared) > 0 {
		note += "; kept for all attachments: " + summary(shared)
	}
	r.rep.judge("cleanup after DEL", specCleanup, p, note)
}

// summary shortens a list of state lines for a reason.
func summary(lines []string) string {
	const most = 6
	if len(lines) <= most {
		return strings.Join(lines, ", ")
	}
	return strings.Join(lines[:most], ", ") + fmt.Sprintf(" and %d more", len(lines)-most)
}
