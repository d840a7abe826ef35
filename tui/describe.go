package tui

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"kinn.dev/kinn/lab"
	"kinn.dev/kinn/lab/daemon"
)

// describePod is the pod view's text: `kinn describe pod`'s, once that is
// in package lab (plug lab.DescribePod in here); until then a short text
// from the lab's state: name, node, addresses, conditions, ports.
var describePod = func(st *lab.State, status *daemon.Status, ns, name string) (string, error) {
	for _, p := range st.Pods(status.Readiness()) {
		if p.Namespace == ns && p.Name == name {
			return podSummary(p), nil
		}
	}
	return "", fmt.Errorf("pod %s/%s %w", ns, name, lab.ErrNotFound)
}

// podSummary lays a pod out the way kubectl describe starts.
func podSummary(p corev1.Pod) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Name:         %s\nNamespace:    %s\nNode:         %s/%s\nIP:           %s\n",
		p.Name, p.Namespace, p.Spec.NodeName, p.Status.HostIP, p.Status.PodIP)
	if p.Status.Reason != "" {
		fmt.Fprintf(&b, "Reason:       %s\nMessage:      %s\n", p.Status.Reason, p.Status.Message)
	}
	b.WriteString("Containers:\n")
	for _, c := range p.Spec.Containers {
		fmt.Fprintf(&b, "  %s:\n", c.Name)
		for _, cp := range c.Ports {
			fmt.Fprintf(&b, "    Port:  %d/%s\n", cp.ContainerPort, cmpOr(string(cp.Protocol), "TCP"))
		}
	}
	b.WriteString("Conditions:\n  Type              Status\n")
	for _, c := range p.Status.Conditions {
		fmt.Fprintf(&b, "  %-17s %s\n", c.Type, c.Status)
	}
	return b.String()
}

// Describe implements Source.
func (l *Live) Describe(ctx context.Context, ns, pod string) (string, error) {
	st, err := l.state()
	if err != nil {
		return "", err
	}
	return describePod(st, l.status(ctx), ns, pod)
}
