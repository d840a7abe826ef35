package lab

import (
	"context"
	"errors"

	"kinn.dev/kinn/lab/kernel"
	"kinn.dev/kinn/lab/kernel/dropwatch"
	"kinn.dev/kinn/lab/trace"
)

// startDropWatch watches the kernel's drops of the probe's packets (its
// DSCP in the TOS byte's upper six bits). A kernel that cannot say why it
// drops (no BTF, no BPF) leaves the trace as it was, with a note; so does
// any other failure to watch: the trace tells its story without it.
func startDropWatch(ctx context.Context) (*dropwatch.Watch, string) {
	w, err := dropwatch.Start(ctx, dropwatch.Filter{TOS: TraceDSCP << 2, TOSMask: 0xfc})
	switch {
	case errors.Is(err, dropwatch.ErrUnsupported):
		return nil, "the kernel's drop reasons are not available here (" + err.Error() + "): drops are named from nftables' trace only"
	case err != nil:
		return nil, "the kernel's drop reasons could not be watched: " + err.Error()
	}
	return w, ""
}

// labDrops reads the closed watch's drops and keeps those in this lab's
// namespaces (the watch is host-wide: another lab's or another trace's
// marked packets show up too), named by namespace and device.
func (s *State) labDrops(w *dropwatch.Watch, links map[string]map[int]string) []trace.KernelDrop {
	names := map[uint64]string{}
	for ns := range s.tracePlaces() {
		if id := kernel.NetnsID(ns); id != 0 {
			names[id] = ns
		}
	}
	var out []trace.KernelDrop
	for d := range w.Events() {
		ns, ok := names[d.Netns]
		if !ok {
			continue
		}
		kd := trace.KernelDrop{Netns: ns, Reason: d.Reason, Symbol: d.Symbol}
		if d.Ifindex != 0 {
			if links[ns] == nil {
				if l, err := kernel.LinkNames(ns); err == nil {
					links[ns] = l
				}
			}
			kd.Dev = links[ns][d.Ifindex]
		}
		out = append(out, kd)
	}
	return out
}
