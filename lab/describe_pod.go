package lab

import (
	"cmp"
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"kinn.dev/kinn/lab/workload"
)

// Pod describes one pod as kubectl describe pod does, with kinn's host-side
// veth and the reason and message of each condition.
func (d Describer) Pod(ns, name string) (string, error) {
	key := ns + "/" + name
	var pod *corev1.Pod
	for _, p := range d.State.PodsLive(d.live) {
		if p.Namespace == ns && p.Name == name {
			pod = &p
			break
		}
	}
	pp, ok := d.State.planPod(key)
	if pod == nil || !ok {
		return "", fmt.Errorf("pod %q not found in namespace %q", name, ns)
	}
	t := newText()
	t.line(0, "Name:\t%s", pod.Name)
	t.line(0, "Namespace:\t%s", pod.Namespace)
	t.line(0, "Node:\t%s/%s", pod.Spec.NodeName, pod.Status.HostIP)
	t.pairs(0, "Labels", pod.Labels, "=")
	t.pairs(0, "Annotations", pod.Annotations, ": ")
	status := string(pod.Status.Phase)
	if pod.DeletionTimestamp != nil {
		status = "Terminating"
	}
	t.line(0, "Status:\t%s", status)
	if pod.Status.Reason != "" {
		t.line(0, "Reason:\t%s", pod.Status.Reason)
		t.line(0, "Message:\t%s", pod.Status.Message)
	}
	t.line(0, "IP:\t%s", pod.Status.PodIP)
	t.line(0, "IPs:")
	for _, ip := range pod.Status.PodIPs {
		t.line(1, "IP:\t%s", ip.IP)
	}
	// kinn's: the pod's end of the pair in the node, so nobody guesses
	// with iflink and deletes the wrong device.
	// Only a pod whose sandbox exists has one (the annotation says so).
	if veth := pod.Annotations[HostInterfaceAnnotation]; veth != "" {
		t.line(0, "Host Veth:\t%s (in %s)", veth, pp.NodeNetns)
	} else {
		t.line(0, "Host Veth:\t<none>")
	}
	t.line(0, "Netns:\t%s", orNone(pod.Annotations["kinn.dev/netns"]))
	if owner := d.owner(key); owner != "" {
		t.line(0, "Controlled By:\t%s", owner)
	}
	t.line(0, "Containers:")
	statuses := map[string]corev1.ContainerStatus{}
	for _, cs := range pod.Status.ContainerStatuses {
		statuses[cs.Name] = cs
	}
	probes := map[string]workload.ProbeResult{}
	for _, r := range d.live(key).Probes {
		probes[r.Container] = r
	}
	for _, c := range pod.Spec.Containers {
		container(t, c, statuses[c.Name], probes[c.Name])
	}
	conditions(t, pod.Status.Conditions)
	t.events(d.Events, "pod "+key, d.Now)
	return t.String(), nil
}

// owner is the workload that made the pod: "Deployment/web".
func (d Describer) owner(key string) string {
	for _, tp := range d.State.Topology.Pods {
		if tp.Key() == key {
			return tp.Owner
		}
	}
	return ""
}

func container(t *text, c corev1.Container, cs corev1.ContainerStatus, pr workload.ProbeResult) {
	t.line(1, "%s:", c.Name)
	t.line(2, "Image:\t%s", c.Image)
	if len(c.Ports) == 0 {
		t.line(2, "Port:\t<none>")
	}
	for i, p := range c.Ports {
		head := "Port:"
		if len(c.Ports) > 1 {
			head = "Ports:"
			if i > 0 {
				head = ""
			}
		}
		port := fmt.Sprintf("%d/%s", p.ContainerPort, cmp.Or(p.Protocol, corev1.ProtocolTCP))
		if p.Name != "" {
			port += " (" + p.Name + ")"
		}
		t.line(2, "%s\t%s", head, port)
	}
	if len(c.Args) > 0 {
		t.line(2, "Args:")
		for _, a := range c.Args {
			t.line(3, "%s", a)
		}
	}
	switch {
	case cs.Name == "":
		// A template's container: no state to show.
	case cs.State.Running != nil:
		t.line(2, "State:\tRunning")
	case cs.State.Waiting != nil:
		t.line(2, "State:\tWaiting")
		t.line(3, "Reason:\t%s", cs.State.Waiting.Reason)
		t.line(3, "Message:\t%s", cs.State.Waiting.Message)
	default:
		t.line(2, "State:\t<unknown>")
	}
	if cs.Name != "" {
		t.line(2, "Ready:\t%v", cs.Ready)
	}
	if c.ReadinessProbe != nil {
		t.line(2, "Readiness:\t%s", workload.Describe(c.ReadinessProbe))
		if pr.Error != "" {
			// kinn's: the probe's last failure, and how many in a row.
			t.line(3, "Last Failure:\t%s (%d in a row)", pr.Error, pr.Failures)
		}
	}
	if c.LivenessProbe != nil {
		t.line(2, "Liveness:\t%s (kinn does not run liveness probes)", workload.Describe(c.LivenessProbe))
	}
	if len(c.Env) == 0 {
		t.line(2, "Environment:\t<none>")
	} else {
		t.line(2, "Environment:")
		for _, e := range c.Env {
			t.line(3, "%s:\t%s", e.Name, e.Value)
		}
	}
}

// conditions is kubectl's Type/Status table with kinn's Reason and
// Message columns, so the why is next to the False.
func conditions(t *text, cs []corev1.PodCondition) {
	if len(cs) == 0 {
		t.line(0, "Conditions:\t<none>")
		return
	}
	t.line(0, "Conditions:")
	t.line(1, "Type\tStatus\tReason\tMessage")
	for _, c := range cs {
		t.line(1, "%s\t%s\t%s\t%s", c.Type, c.Status, c.Reason, c.Message)
	}
}

// readinessOf is the Readiness view of a LiveStatus.
func readinessOf(l LiveStatus) Readiness {
	return func(key string) (bool, bool) {
		p := l(key)
		return p.Ready, p.Terminating
	}
}
