package lab

// Pods that fail, the way a kubelet lives with them. A pod whose sandbox
// cannot be made (its CNI ADD failed, the node's network is not ready)
// stays in the lab, shown failed with its reason; it never blocks work on
// other pods. `kinn up` converges the whole lab, so it retries every such
// pod and fails if one still cannot run. A live edit (apply, scale, delete)
// acts on what it names: it leaves pods that had failed before alone (no
// retried ADD, which could fail again or hang until its timeout), fails
// only for pods it brings, and reports the others as warnings.

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"kinn.dev/kinn/lab/plan"
)

// NetworkNotReady is the kubelet's message for a node whose runtime's
// network is not ready (the CNI STATUS verb failed), as `kubectl get node
// -o yaml` shows it in the Ready condition.
func NetworkNotReady(err error) string {
	return "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: " + err.Error()
}

// errNetworkNotReady is what a pod on a node whose network is not ready
// gets instead of an ADD: the kubelet does not create its sandbox.
func errNetworkNotReady(n plan.Node) error {
	return fmt.Errorf("network is not ready: %s", n.NetworkNotReady)
}

// failedBefore is the pod as the lab's previous plan had it, if its ADD had
// failed there on the same node: an edit leaves it so.
func (r *repairs) failedBefore(pod plan.Pod) (plan.Pod, bool) {
	was, ok := r.pods[pod.Key()]
	return was, ok && was.Node == pod.Node && was.Error != "" && sameAttachment(was, pod)
}

// isNew reports whether pod is new to this node in this run, or asks its
// plugins for something else than before: a pod the edit brings or
// changes, whose failure is the edit's own (an apply that fixes a failed
// pod's annotation retries it).
func (r *repairs) isNew(pod plan.Pod) bool {
	was, ok := r.pods[pod.Key()]
	return !ok || was.Node != pod.Node || !sameAttachment(was, pod)
}

// sameAttachment reports whether two plans of a pod ask its plugins for
// the same: the capabilities and arguments its annotations, ports and DNS
// give, and its extra networks.
func sameAttachment(a, b plan.Pod) bool {
	return maps.Equal(a.Annotations, b.Annotations) && slices.Equal(a.Ports, b.Ports) &&
		reflect.DeepEqual(a.DNS, b.DNS) && slices.EqualFunc(a.Networks, b.Networks, func(x, y plan.Network) bool {
		return x.Name == y.Name && x.Interface == y.Interface && x.Config == y.Config
	})
}

// podErrors collects a run's failures that are its own: every failure
// under `kinn up`, only those of pods new to the lab under an edit.
type podErrors struct {
	errs []error
	own  []string // their pods' keys
}

func (pe *podErrors) add(edit bool, r *repairs, pod plan.Pod, err error) {
	if !edit || r.isNew(pod) {
		pe.errs = append(pe.errs, err)
		pe.own = append(pe.own, pod.Key())
	}
}

// warnings are the pods of p not running, but for the run's own failures.
func (pe *podErrors) warnings(p *plan.Lab) []string { return NotRunning(p, pe.own...) }

// NotRunning lists, for people, the pods of p that should be running and
// are not, with why; skip names pods to leave out.
func NotRunning(p *plan.Lab, skip ...string) []string {
	var out []string
	for _, pod := range p.Pods {
		if pod.Error != "" && !slices.Contains(skip, pod.Key()) {
			out = append(out, notRunning(pod))
		}
	}
	return out
}

func notRunning(pod plan.Pod) string {
	why := strings.TrimPrefix(pod.Error, "pod "+pod.Key()+": ")
	return fmt.Sprintf("pod %s on %s is not running: %s (`kinn up` retries it)", pod.Key(), pod.Node, why)
}

func (pe *podErrors) err() error { return errors.Join(pe.errs...) }
