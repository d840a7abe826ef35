package lab

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kinn.dev/kinn/lab/service"
	"kinn.dev/kinn/lab/workload"
)

// Node describes one node as kubectl describe node does, in the parts
// kinn has: labels, taints, the Ready condition, addresses, the pod CIDR,
// and its pods.
func (d Describer) Node(name string) (string, error) {
	var node *corev1.Node
	for _, n := range d.State.Nodes() {
		if n.Name == name {
			node = &n
		}
	}
	if node == nil {
		return "", fmt.Errorf("node %q not found", name)
	}
	t := newText()
	t.line(0, "Name:\t%s", node.Name)
	role := "<none>"
	if _, ok := node.Labels["node-role.kubernetes.io/control-plane"]; ok {
		role = "control-plane"
	}
	t.line(0, "Roles:\t%s", role)
	t.pairs(0, "Labels", node.Labels, "=")
	t.pairs(0, "Annotations", node.Annotations, ": ")
	var taints []string
	for _, tn := range node.Spec.Taints {
		taints = append(taints, tn.ToString())
	}
	t.line(0, "Taints:\t%s", orNone(strings.Join(taints, ",")))
	t.line(0, "Conditions:")
	t.line(1, "Type\tStatus\tReason\tMessage")
	t.line(1, "----\t------\t------\t-------")
	for _, c := range node.Status.Conditions {
		t.line(1, "%s\t%s\t%s\t%s", c.Type, c.Status, c.Reason, c.Message)
	}
	t.line(0, "Addresses:")
	for _, a := range node.Status.Addresses {
		t.line(1, "%s:\t%s", a.Type, a.Address)
	}
	t.line(0, "PodCIDR:\t%s", node.Spec.PodCIDR)
	t.line(0, "PodCIDRs:\t%s", strings.Join(node.Spec.PodCIDRs, ","))
	var pods []corev1.Pod
	for _, p := range d.State.PodsLive(d.live) {
		if p.Spec.NodeName == name {
			pods = append(pods, p)
		}
	}
	t.line(0, "Non-terminated Pods:\t(%d in total)", len(pods))
	t.line(1, "Namespace\tName\tIP\tReady")
	t.line(1, "---------\t----\t--\t-----")
	for _, p := range pods {
		t.line(1, "%s\t%s\t%s\t%s", p.Namespace, p.Name, orNone(p.Status.PodIP), readyText(p))
	}
	t.events(d.Events, "node "+name, d.Now)
	return t.String(), nil
}

// readyText is a pod's Ready condition, with why when it is not.
func readyText(p corev1.Pod) string {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			if why := NotReadyReason(p); why != "" {
				return string(c.Status) + " (" + why + ")"
			}
			return string(c.Status)
		}
	}
	return "<unknown>"
}

// Deployment describes one Deployment as kubectl describe deployment does:
// its selector, replicas (desired, and how many of its pods are ready),
// pod template, and its pods (kinn has no ReplicaSets to list).
func (d Describer) Deployment(ns, name string) (string, error) {
	var dep *metav1.ObjectMeta
	var replicas int32 = 1
	strategy := appsv1.RollingUpdateDeploymentStrategyType
	var tmpl corev1.PodTemplateSpec
	var sel string
	for _, x := range d.State.Topology.Deployments {
		if x.Namespace == ns && x.Name == name {
			dep, tmpl = &x.ObjectMeta, x.Spec.Template
			strategy = cmp.Or(x.Spec.Strategy.Type, strategy)
			if x.Spec.Replicas != nil {
				replicas = *x.Spec.Replicas
			}
			sel = metav1.FormatLabelSelector(x.Spec.Selector)
		}
	}
	if dep == nil {
		return "", fmt.Errorf("deployment %q not found in namespace %q", name, ns)
	}
	owner := "Deployment/" + name
	var pods []corev1.Pod
	keys := map[string]bool{}
	for _, tp := range d.State.Topology.Pods {
		if tp.Namespace == ns && tp.Owner == owner {
			keys[tp.Key()] = true
		}
	}
	ready := 0
	for _, p := range d.State.PodsLive(d.live) {
		if keys[p.Namespace+"/"+p.Name] {
			pods = append(pods, p)
			if strings.HasPrefix(readyText(p), "True") {
				ready++
			}
		}
	}
	t := newText()
	t.line(0, "Name:\t%s", dep.Name)
	t.line(0, "Namespace:\t%s", cmp.Or(dep.Namespace, "default"))
	t.pairs(0, "Labels", dep.Labels, "=")
	t.pairs(0, "Annotations", dep.Annotations, ": ")
	t.line(0, "Selector:\t%s", sel)
	if d.known() {
		t.line(0, "Replicas:\t%d desired | %d updated | %d total | %d available | %d unavailable",
			replicas, len(pods), len(pods), ready, len(pods)-ready)
	} else {
		t.line(0, "Replicas:\t%d desired | %d updated | %d total | <unknown> available (no lab process answers)",
			replicas, len(pods), len(pods))
	}
	t.line(0, "StrategyType:\t%s", strategy)
	t.line(0, "Pod Template:")
	t.pairs(1, "Labels", tmpl.Labels, "=")
	t.line(1, "Containers:")
	for _, c := range tmpl.Spec.Containers {
		container(t, c, corev1.ContainerStatus{}, workload.ProbeResult{})
	}
	t.line(0, "Pods:")
	t.line(1, "Name\tNode\tIP\tReady")
	for _, p := range pods {
		t.line(1, "%s\t%s\t%s\t%s", p.Name, p.Spec.NodeName, orNone(p.Status.PodIP), readyText(p))
	}
	t.events(d.Events, "deployment "+ns+"/"+name, d.Now)
	return t.String(), nil
}

// EndpointSlice describes one slice (by its name, or its Service's name)
// as kubectl describe endpointslice does.
func (d Describer) EndpointSlice(ns, name string) (string, error) {
	var svcs []*corev1.Service
	for _, s := range d.State.Services {
		if s.Namespace == ns {
			svcs = append(svcs, s)
		}
	}
	var user []*discoveryv1.EndpointSlice
	for _, s := range d.State.Topology.EndpointSlices {
		if s.Namespace == ns {
			user = append(user, s)
		}
	}
	all := service.WithUserSlices(service.EndpointSlices(svcs, d.State.PodStates(readinessOf(d.live))), user)
	t := newText()
	found := false
	for _, s := range all {
		if s.Name != name && s.Labels[discoveryv1.LabelServiceName] != name {
			continue
		}
		if found {
			t.line(0, "")
		}
		found = true
		isUser := slices.ContainsFunc(user, func(u *discoveryv1.EndpointSlice) bool { return u.Name == s.Name })
		slice(t, s, d.known() || isUser) // a user's slice says its own conditions
		t.events(d.Events, "endpointslice "+ns+"/"+s.Name, d.Now)
	}
	if !found {
		return "", fmt.Errorf("endpointslice %q not found in namespace %q", name, ns)
	}
	return t.String(), nil
}

// slice lays out one slice; known is false when its conditions depend on
// readiness nobody could report.
func slice(t *text, s discoveryv1.EndpointSlice, known bool) {
	t.line(0, "Name:\t%s", s.Name)
	t.line(0, "Namespace:\t%s", s.Namespace)
	t.pairs(0, "Labels", s.Labels, "=")
	t.pairs(0, "Annotations", s.Annotations, ": ")
	t.line(0, "AddressType:\t%s", s.AddressType)
	t.line(0, "Ports:")
	t.line(1, "Name\tPort\tProtocol")
	t.line(1, "----\t----\t--------")
	for _, p := range s.Ports {
		name, port := "<unset>", "<unset>"
		if p.Name != nil && *p.Name != "" {
			name = *p.Name
		}
		if p.Port != nil {
			port = fmt.Sprint(*p.Port)
		}
		proto := corev1.ProtocolTCP
		if p.Protocol != nil {
			proto = *p.Protocol
		}
		t.line(1, "%s\t%s\t%s", name, port, proto)
	}
	t.line(0, "Endpoints:")
	for _, e := range s.Endpoints {
		t.line(1, "- Addresses:\t%s", strings.Join(e.Addresses, ","))
		t.line(2, "Conditions:")
		if known {
			t.line(3, "Ready:\t%s", boolText(e.Conditions.Ready))
			t.line(3, "Serving:\t%s", boolText(e.Conditions.Serving))
		} else {
			t.line(3, "Ready:\t<unknown> (no lab process answers)")
			t.line(3, "Serving:\t<unknown>")
		}
		t.line(3, "Terminating:\t%s", boolText(e.Conditions.Terminating))
		if e.TargetRef != nil {
			t.line(2, "TargetRef:\t%s/%s", e.TargetRef.Kind, e.TargetRef.Name)
		}
		if e.NodeName != nil {
			t.line(2, "NodeName:\t%s", *e.NodeName)
		}
	}
}

func boolText(b *bool) string {
	if b == nil {
		return "<unset>"
	}
	return fmt.Sprint(*b)
}
