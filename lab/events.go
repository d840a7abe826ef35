package lab

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"kinn.dev/kinn/lab/cni"
)

// Events: kinn keeps no event store. The lab process writes what the
// kubelet and the endpoint slice controller would record as lines of its
// log (lab.log: "2006/01/02 15:04:05 pod NS/NAME: Warning Unhealthy:
// Readiness probe failed: ..."), the CNI call log keeps every plugin call,
// and describe reads both back as kubectl's Events section.

// Event types, as Kubernetes names them.
const (
	EventNormal  = "Normal"
	EventWarning = "Warning"
)

// Event reasons kinn records.
const (
	ReasonUnhealthy = "Unhealthy" // a failed probe, the kubelet's reason
)

// ProbeFailed is the kubelet's message for a failed readiness probe.
func ProbeFailed(err error) string { return "Readiness probe failed: " + err.Error() }

// PodEventLine is an event of a pod as the lab process logs it.
func PodEventLine(pod, typ, reason, msg string) string {
	return fmt.Sprintf("pod %s: %s %s: %s", pod, typ, reason, msg)
}

// Event is one event about one object, repeats folded together as the
// event recorder folds them.
type Event struct {
	Type, Reason, From, Message string
	Object                      string // "pod NS/NAME", "service NS/NAME"
	First, Last                 time.Time
	Count                       int
}

// logTime is the standard logger's prefix (log.LstdFlags).
const logTime = "2006/01/02 15:04:05"

// LogEvents reads the events in lab.log's text, in the log's order.
// Lines that are no event of an object (the lab process's own news) are
// left out.
func LogEvents(text string) []Event {
	var out []Event
	for _, line := range strings.Split(text, "\n") {
		if len(line) <= len(logTime) {
			continue
		}
		t, err := time.ParseInLocation(logTime, line[:len(logTime)], time.Local)
		if err != nil {
			continue
		}
		if e, ok := logEvent(strings.TrimSpace(line[len(logTime):])); ok {
			e.First, e.Last, e.Count = t, t, 1
			out = append(out, e)
		}
	}
	return out
}

// logEvent reads one log message as an event.
func logEvent(msg string) (Event, bool) {
	if rest, ok := strings.CutPrefix(msg, "endpoints "); ok {
		// "endpoints NS/SVC:PORT/PROTO: 2 ready (...)": the slices changed.
		port, what, ok := strings.Cut(rest, ": ")
		svc, _, _ := strings.Cut(port, ":")
		if !ok {
			return Event{}, false
		}
		return Event{Type: EventNormal, Reason: "EndpointsChanged", From: "endpointslice-controller",
			Object: "service " + svc, Message: "port " + port + ": " + what}, true
	}
	rest, ok := strings.CutPrefix(msg, "pod ")
	if !ok {
		return Event{}, false
	}
	key, what, _ := strings.Cut(rest, " ")
	e := Event{Type: EventNormal, From: "kubelet"}
	if k, ok := strings.CutSuffix(key, ":"); ok {
		key = k
		e.Reason, e.Message = podLogReason(what)
		if typ, rest, ok := strings.Cut(what, " "); ok && (typ == EventNormal || typ == EventWarning) {
			if reason, m, ok := strings.Cut(rest, ": "); ok && !strings.Contains(reason, " ") {
				e.Type, e.Reason, e.Message = typ, reason, m
			}
		}
		if e.Reason == "Failed" {
			e.Type = EventWarning
		}
	} else {
		switch {
		case strings.HasPrefix(what, "started"):
			e.Reason, e.Message = "Started", "Started the pod's containers "+strings.TrimPrefix(what, "started ")
		case what == "stopped":
			e.Reason, e.Message = "Killing", "Stopped the pod's containers"
		case what == "terminated":
			e.Reason, e.Message = "Terminated", "Pod terminated and removed"
		default:
			e.Reason, e.Message = "Other", what
		}
	}
	e.Object = "pod " + key
	return e, true
}

// podLogReason names the lab process's other lines about a pod
// ("pod NS/NAME: ...").
func podLogReason(what string) (reason, msg string) {
	switch {
	case what == "readiness probe says ready=true":
		return "Ready", "Readiness probe succeeded: the pod is ready"
	case what == "readiness probe says ready=false":
		return "NotReady", "Readiness probe failed its threshold: the pod is not ready"
	case strings.HasPrefix(what, "kinn.dev/run"), strings.HasPrefix(what, "servers:"), strings.HasPrefix(what, "dns:"):
		return "Failed", what
	}
	return "Other", what
}

// Fold folds repeated events of one object (same type, reason and
// message) into one with a count, as the event recorder does, ordered by
// their last time as kubectl describe lists them.
func Fold(events []Event) []Event {
	var out []Event
	at := map[string]int{}
	for _, e := range events {
		k := e.Object + "\x00" + e.Type + "\x00" + e.Reason + "\x00" + e.Message
		if i, ok := at[k]; ok {
			// Any order in: the span is the earliest first and the latest last.
			out[i].Count += e.Count
			if e.First.Before(out[i].First) {
				out[i].First = e.First
			}
			if e.Last.After(out[i].Last) {
				out[i].Last = e.Last
			}
			continue
		}
		at[k] = len(out)
		out = append(out, e)
	}
	sortEvents(out)
	return out
}

// sortEvents orders events by their last time, unknown times first (as
// kubectl shows "<unknown>" ages at the top). Log lines have whole
// seconds, CNI calls finer ones: within one second the given order stands.
func sortEvents(es []Event) {
	slices.SortStableFunc(es, func(a, b Event) int {
		return a.Last.Truncate(time.Second).Compare(b.Last.Truncate(time.Second))
	})
}

// CNIEvents are the pods' plugin calls as the events a runtime and Multus
// record: each successful ADD is "AddedInterface" (Multus's words: "Add
// eth0 [10.244.1.3/24] from bridge"), a failed one the kubelet's
// FailedCreatePodSandBox, a failed DEL FailedKillPod; other calls only
// when they fail.
func CNIEvents(calls []cni.Call) []Event {
	var out []Event
	for i := range calls {
		c := &calls[i]
		if c.Pod == "" {
			continue // the node's own calls (STATUS, GC)
		}
		e := Event{Object: "pod " + c.Pod, From: "kubelet", First: c.Time, Last: c.Time, Count: 1}
		ok := c.OK()
		switch {
		case c.Command == "ADD" && ok:
			e.Type, e.Reason, e.From = EventNormal, "AddedInterface", "multus"
			e.Message = fmt.Sprintf("Add %s %s from %s on %s", c.Env["CNI_IFNAME"], callIPs(c), c.Plugin, c.Node)
		case ok:
			continue
		case c.Command == "ADD":
			e.Type, e.Reason = EventWarning, ReasonCNIFailed
			e.Message = fmt.Sprintf("Failed to create pod sandbox: plugin type=%q failed (add): %s", c.Plugin, c.Outcome())
		case c.Command == "DEL":
			e.Type, e.Reason = EventWarning, "FailedKillPod"
			e.Message = fmt.Sprintf("error killing pod: plugin type=%q failed (delete): %s", c.Plugin, c.Outcome())
		default:
			e.Type, e.Reason = EventWarning, "FailedCNI"+strings.ToUpper(c.Command[:1])+strings.ToLower(c.Command[1:])
			e.Message = fmt.Sprintf("plugin type=%q failed (%s): %s", c.Plugin, strings.ToLower(c.Command), c.Outcome())
		}
		out = append(out, e)
	}
	return out
}

// callIPs are an ADD result's addresses, "[10.244.1.3/24]".
func callIPs(c *cni.Call) string {
	var res struct{ IPs []struct{ Address string } }
	json.Unmarshal(c.Result, &res)
	var ips []string
	for _, ip := range res.IPs {
		ips = append(ips, ip.Address)
	}
	return "[" + strings.Join(ips, " ") + "]"
}
