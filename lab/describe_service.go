package lab

import (
	"cmp"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"kinn.dev/kinn/lab/service"
)

// Service describes one Service as kubectl describe service does, and adds
// the pods its selector picks that are no ready endpoint, with why: not
// ready (and the probe's error), terminating, no address, or no port of
// the targetPort's name on the pod.
func (d Describer) Service(ns, name string) (string, error) {
	var svc *corev1.Service
	for _, s := range d.State.Services {
		if s.Namespace == ns && s.Name == name {
			svc = s
		}
	}
	if svc == nil {
		return "", fmt.Errorf("service %q not found in namespace %q", name, ns)
	}
	pods := d.State.PodStates(readinessOf(d.live))
	ports := service.Ports([]*corev1.Service{svc}, d.State.Topology.EndpointSlices, pods)
	spec := svc.Spec
	t := newText()
	t.line(0, "Name:\t%s", svc.Name)
	t.line(0, "Namespace:\t%s", svc.Namespace)
	t.pairs(0, "Labels", svc.Labels, "=")
	t.pairs(0, "Annotations", svc.Annotations, ": ")
	t.line(0, "Selector:\t%s", orNone(labels.SelectorFromSet(spec.Selector).String()))
	t.line(0, "Type:\t%s", cmp.Or(spec.Type, corev1.ServiceTypeClusterIP))
	if spec.Type == corev1.ServiceTypeExternalName {
		t.line(0, "External Name:\t%s", spec.ExternalName)
	}
	t.line(0, "IP Family Policy:\tSingleStack")
	t.line(0, "IP Families:\tIPv4")
	t.line(0, "IP:\t%s", spec.ClusterIP)
	t.line(0, "IPs:\t%s", orNone(strings.Join(spec.ClusterIPs, ",")))
	if len(spec.ExternalIPs) > 0 {
		t.line(0, "External IPs:\t%s", strings.Join(spec.ExternalIPs, ","))
	}
	var ingress []string
	for _, in := range svc.Status.LoadBalancer.Ingress {
		ingress = append(ingress, cmp.Or(in.IP, in.Hostname))
	}
	if len(ingress) > 0 {
		t.line(0, "LoadBalancer Ingress:\t%s", strings.Join(ingress, ", "))
	}
	for _, sp := range spec.Ports {
		servicePort(t, sp, portOf(ports, sp), d.known() || service.UserManaged(svc)) // a user's slices say their own readiness
	}
	t.line(0, "Session Affinity:\t%s", cmp.Or(spec.SessionAffinity, corev1.ServiceAffinityNone))
	if spec.Type == corev1.ServiceTypeNodePort || spec.Type == corev1.ServiceTypeLoadBalancer {
		t.line(0, "External Traffic Policy:\t%s", cmp.Or(spec.ExternalTrafficPolicy, corev1.ServiceExternalTrafficPolicyCluster))
	}
	if spec.HealthCheckNodePort != 0 {
		t.line(0, "HealthCheck NodePort:\t%d", spec.HealthCheckNodePort)
	}
	itp := corev1.ServiceInternalTrafficPolicyCluster
	if spec.InternalTrafficPolicy != nil {
		itp = *spec.InternalTrafficPolicy
	}
	t.line(0, "Internal Traffic Policy:\t%s", itp)
	d.unused(t, svc, pods)
	t.events(d.Events, "service "+svc.Namespace+"/"+svc.Name, d.Now)
	return t.String(), nil
}

// portOf is the proxy's view of one of the Service's ports.
func portOf(ports []service.Port, sp corev1.ServicePort) *service.Port {
	for j := range ports {
		if ports[j].Name == sp.Name && ports[j].Port == uint16(sp.Port) {
			return &ports[j]
		}
	}
	return nil
}

// servicePort writes kubectl's lines for one port.
func servicePort(t *text, sp corev1.ServicePort, p *service.Port, known bool) {
	name := cmp.Or(sp.Name, "<unset>")
	proto := cmp.Or(sp.Protocol, corev1.ProtocolTCP)
	t.line(0, "Port:\t%s\t%d/%s", name, sp.Port, proto)
	target := sp.TargetPort.String()
	if target == "0" {
		target = fmt.Sprint(sp.Port)
	}
	t.line(0, "TargetPort:\t%s/%s", target, proto)
	if sp.NodePort != 0 {
		t.line(0, "NodePort:\t%s\t%d/%s", name, sp.NodePort, proto)
	}
	var eps []string
	if p != nil {
		for _, e := range p.Endpoints {
			if e.Ready {
				eps = append(eps, fmt.Sprintf("%s:%d", e.IP, e.Port))
			}
		}
	}
	if !known {
		t.line(0, "Endpoints:\t<unknown> (no lab process answers: readiness is unknown)")
		return
	}
	t.line(0, "Endpoints:\t%s", strings.Join(eps, ","))
}

// unused lists the pods the Service's selector picks that are no ready
// endpoint of one of its ports, with why (kinn's section).
func (d Describer) unused(t *text, svc *corev1.Service, pods []service.PodState) {
	if len(svc.Spec.Selector) == 0 {
		return
	}
	sel := labels.SelectorFromSet(svc.Spec.Selector)
	notReady := map[string]string{}
	for _, p := range d.State.PodsLive(d.live) {
		notReady[p.Namespace+"/"+p.Name] = NotReadyReason(p)
	}
	var rows []string
	for _, p := range pods {
		if p.Pod == nil || p.Pod.Namespace != svc.Namespace || !sel.Matches(labels.Set(p.Pod.Labels)) {
			continue
		}
		for _, why := range whyNot(svc, p, notReady) {
			rows = append(rows, fmt.Sprintf("%s\t%s\t%s", p.Pod.Name, orNone(addrOf(p)), why))
		}
	}
	if len(rows) == 0 {
		t.line(0, "Selected Pods Not Used:\t<none>")
		return
	}
	t.line(0, "Selected Pods Not Used:")
	t.line(1, "Pod\tIP\tWhy")
	for _, r := range rows {
		t.line(1, "%s", r)
	}
}

func addrOf(p service.PodState) string {
	if !p.IP.IsValid() {
		return ""
	}
	return p.IP.String()
}

// whyNot says why a selected pod is no ready endpoint: one line for the
// pod, or one per port whose targetPort name it lacks.
// notReady holds why each pod is not ready, by namespace/name.
func whyNot(svc *corev1.Service, p service.PodState, notReady map[string]string) []string {
	key := p.Pod.Namespace + "/" + p.Pod.Name
	var out []string
	for _, sp := range svc.Spec.Ports {
		if service.FindPort(p.Pod, sp) == 0 {
			out = append(out, fmt.Sprintf("port %s: the pod has no container port named %q (%s)",
				cmp.Or(sp.Name, fmt.Sprint(sp.Port)), sp.TargetPort.StrVal, cmp.Or(sp.Protocol, corev1.ProtocolTCP)))
		}
	}
	switch {
	case !p.IP.IsValid():
		out = append(out, "no address: the pod is not running")
	case p.Terminating:
		out = append(out, "terminating: used for new connections only while the Service has no ready endpoint")
	case !p.Ready:
		why := "not ready"
		if r := notReady[key]; r != "" {
			why += ": " + r
		}
		if svc.Spec.PublishNotReadyAddresses {
			why += " (published anyway: publishNotReadyAddresses)"
		}
		out = append(out, why)
	}
	return out
}
