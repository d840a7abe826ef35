package lab

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"kinn.dev/kinn/lab/workload"
)

// PodLive is the lab process's word on one pod: whether its workload runs,
// its readiness and why, as kubelet would report them in the pod's status.
type PodLive struct {
	Known       bool // the lab process answered; without it readiness is unknown
	Running     bool
	Ready       bool
	Terminating bool
	Forced      bool   // `kinn ready POD false` is in force
	Reason      string // why its workload does not run
	Probes      []workload.ProbeResult
}

// LiveStatus gives a pod's PodLive by namespace/name.
type LiveStatus func(key string) PodLive

// Reasons and messages of the pod's conditions: the kubelet's
// (pkg/kubelet/status/generate.go), and kinn's own for what kinn adds.
const (
	ReasonContainersNotReady = "ContainersNotReady"
	// ReasonReadinessForced is `kinn ready POD false`: the containers are
	// ready, the pod is held out of its Services, as a readiness gate would.
	ReasonReadinessForced = "ReadinessForced"
	// ReasonLabProcessDown: no lab process answered, nobody knows.
	ReasonLabProcessDown = "LabProcessDown"
	// AnnotationReadiness carries why a running pod is not ready ("Readiness
	// probe failed: ..."), as kinn.dev/netns carries its namespace: for
	// `get pods -o wide` and the terminal UI.
	AnnotationReadiness = "kinn.dev/readiness"
)

// readyOf is the Readiness-only view of a pod, for callers without the
// lab process's detail.
func readyOf(r Readiness) LiveStatus {
	return func(key string) PodLive {
		ready, term := r(key)
		return PodLive{Known: true, Running: true, Ready: ready, Terminating: term}
	}
}

// podConditions fills a running pod's conditions and container statuses
// as the kubelet does: ContainersReady and Ready False with reason
// ContainersNotReady and "containers with unready status: [c]" while a
// container's readiness probe fails or its workload is down.
func podConditions(pod *corev1.Pod, live PodLive) {
	unready := containerReadiness(pod, live)
	var names []string
	for _, c := range pod.Spec.Containers {
		ready := unready[c.Name] == ""
		if !ready {
			names = append(names, c.Name)
		}
		cs := corev1.ContainerStatus{Name: c.Name, Image: c.Image, Ready: ready && live.Known}
		switch {
		case !live.Known:
			// Nobody answered: no state is known, none is claimed.
		case live.Running:
			cs.Started, cs.State.Running = &live.Running, &corev1.ContainerStateRunning{}
		default:
			cs.Started = &live.Running
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "Error", Message: live.Reason}
		}
		pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, cs)
	}
	containers := corev1.PodCondition{Type: corev1.ContainersReady, Status: corev1.ConditionTrue}
	if len(names) > 0 {
		containers.Status, containers.Reason = corev1.ConditionFalse, ReasonContainersNotReady
		containers.Message = fmt.Sprintf("containers with unready status: [%s]", strings.Join(names, " "))
	}
	if !live.Known {
		containers = corev1.PodCondition{Type: corev1.ContainersReady, Status: corev1.ConditionUnknown, Reason: ReasonLabProcessDown,
			Message: "no lab process answers: readiness is unknown (`kinn up` starts it again)"}
	}
	ready := containers
	ready.Type = corev1.PodReady
	switch {
	case !live.Known:
		// As the containers': Unknown, not False.
	case containers.Status == corev1.ConditionTrue && live.Forced:
		ready.Status, ready.Reason = corev1.ConditionFalse, ReasonReadinessForced
		ready.Message = "`kinn ready " + pod.Namespace + "/" + pod.Name + " false` is in force"
	case !live.Ready:
		ready.Status = corev1.ConditionFalse // the lab process's verdict stands
	}
	if why := notReadyText(pod, live, unready, ready); why != "" {
		pod.Annotations[AnnotationReadiness] = why
	}
	t := corev1.ConditionTrue
	pod.Status.Conditions = []corev1.PodCondition{
		{Type: corev1.PodReadyToStartContainers, Status: t},
		{Type: corev1.PodInitialized, Status: t},
		ready,
		containers,
		{Type: corev1.PodScheduled, Status: t},
	}
}

// containerReadiness says, per container, why it is not ready ("" when
// it is): its workload is down, or its readiness probe fails.
func containerReadiness(pod *corev1.Pod, live PodLive) map[string]string {
	out := map[string]string{}
	for _, c := range pod.Spec.Containers {
		switch {
		case !live.Known:
			out[c.Name] = "readiness unknown"
		case !live.Running:
			out[c.Name] = "not running: " + live.Reason
		}
	}
	if !live.Known || !live.Running {
		return out
	}
	for _, p := range live.Probes {
		if !p.Ready {
			out[p.Container] = "readiness probe has not succeeded yet"
			if p.Error != "" {
				out[p.Container] = ProbeFailed(fmt.Errorf("%s", p.Error))
			}
		}
	}
	if !live.Ready && !live.Forced && len(out) == 0 {
		// Not ready by the lab process's word with no detail given
		// (a Readiness-only caller): every container is.
		for _, c := range pod.Spec.Containers {
			out[c.Name] = "not ready"
		}
	}
	return out
}

// notReadyText is the one line that says why the pod is not ready, "" when
// it is.
func notReadyText(pod *corev1.Pod, live PodLive, unready map[string]string, ready corev1.PodCondition) string {
	if ready.Status == corev1.ConditionTrue {
		return ""
	}
	for _, c := range pod.Spec.Containers {
		if why := unready[c.Name]; why != "" && why != "not ready" {
			if len(pod.Spec.Containers) > 1 {
				return c.Name + ": " + why
			}
			return why
		}
	}
	if ready.Message != "" {
		return ready.Message
	}
	return ""
}

// NotReadyReason is why a pod (as State.PodsLive makes it) is not ready,
// "" when it is or nobody knows: "Readiness probe failed: dial tcp ...".
func NotReadyReason(p corev1.Pod) string { return p.Annotations[AnnotationReadiness] }
