package topology

import (
	"fmt"
	"math"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
)

// resolveObjects checks the Kubernetes objects, applies the defaults the API
// server would, and expands and places the workloads' pods.
func resolveObjects(lab *Lab, objs []object, r *report, live Live) {
	seen := make(map[string]*doc)
	namespaces := map[string]bool{metav1.NamespaceDefault: true, metav1.NamespaceSystem: true}
	nodePorts := make(map[string]string)
	var workloads, userSlices []object
	for _, o := range objs {
		meta := checkMeta(o, r, seen)
		namespaces[meta.Namespace] = true
		switch obj := o.obj.(type) {
		case *corev1.Namespace:
			namespaces[obj.Name] = true
			if len(obj.Labels) > 0 {
				if lab.NamespaceLabels == nil {
					lab.NamespaceLabels = map[string]map[string]string{}
				}
				lab.NamespaceLabels[obj.Name] = obj.Labels
			}
		case *networkingv1.NetworkPolicy:
			checkNetworkPolicy(o.d, r, obj)
			lab.NetworkPolicies = append(lab.NetworkPolicies, obj)
		case *corev1.Service:
			checkService(o.d, r, obj, lab.Networking.ServiceSubnet, nodePorts)
			lab.Services = append(lab.Services, obj)
		case *corev1.Pod:
			checkPodSpec(o.d, r, path{"spec"}, &obj.Spec)
			workloads = append(workloads, o)
		case *appsv1.Deployment:
			checkDeployment(o.d, r, obj)
			lab.Deployments = append(lab.Deployments, obj)
			workloads = append(workloads, o)
		case *appsv1.DaemonSet:
			checkSelector(o.d, r, obj.Spec.Selector, obj.Spec.Template.Labels)
			checkTemplate(o.d, r, &obj.Spec.Template)
			lab.DaemonSets = append(lab.DaemonSets, obj)
			workloads = append(workloads, o)
		case *NetworkAttachmentDefinition:
			lab.NetworkAttachments = append(lab.NetworkAttachments, checkNetworkAttachment(o.d, r, obj))
		case *discoveryv1.EndpointSlice:
			checkEndpointSlice(o.d, r, obj)
			lab.EndpointSlices = append(lab.EndpointSlices, obj)
			userSlices = append(userSlices, o)
		}
	}
	checkSliceServices(lab.Services, userSlices, r)
	delete(namespaces, "") // a Namespace's own namespace
	for ns := range namespaces {
		lab.Namespaces = append(lab.Namespaces, ns)
	}
	slices.Sort(lab.Namespaces)
	lab.Pods = place(lab, workloads, r, live)
	resolvePodNetworks(lab, workloads, r)
}

// checkMeta checks the name, namespace and labels every object has, and that
// no two objects of a kind share a namespace and name. It defaults the
// namespace of namespaced objects.
func checkMeta(o object, r *report, seen map[string]*doc) *metav1.ObjectMeta {
	meta, kind := objectMeta(o.obj)
	d := o.d
	nameCheck := validation.IsDNS1123Subdomain
	switch kind {
	case "Namespace":
		meta.Namespace = "" // cluster-scoped
		nameCheck = validation.IsDNS1123Label
	case "Service":
		nameCheck = validation.IsDNS1123Label
	}
	if kind != "Namespace" {
		if meta.Namespace == "" {
			meta.Namespace = metav1.NamespaceDefault
		} else if errs := validation.IsDNS1123Label(meta.Namespace); len(errs) > 0 {
			r.errorf(d.at("metadata", "namespace"), "metadata.namespace %q is invalid: %s", meta.Namespace, strings.Join(errs, "; "))
		}
	}
	switch errs := nameCheck(meta.Name); {
	case meta.Name == "":
		r.errorf(d.at("metadata", "name"), "metadata.name is required")
	case len(errs) > 0:
		r.errorf(d.at("metadata", "name"), "metadata.name %q is invalid: %s", meta.Name, strings.Join(errs, "; "))
	default:
		key := kind + " " + meta.Namespace + "/" + meta.Name
		if first, dup := seen[key]; dup {
			r.errorf(d.at("metadata", "name"), "duplicate %s %q (the first is at line %d)", kind, qualified(meta), first.root.Line)
		} else {
			seen[key] = d
		}
	}
	for k, v := range meta.Labels {
		checkLabel(r, d.keyAt("metadata", "labels", k), k, v)
	}
	return meta
}

func objectMeta(obj any) (*metav1.ObjectMeta, string) {
	switch o := obj.(type) {
	case *corev1.Namespace:
		return &o.ObjectMeta, "Namespace"
	case *corev1.Pod:
		return &o.ObjectMeta, "Pod"
	case *corev1.Service:
		return &o.ObjectMeta, "Service"
	case *appsv1.Deployment:
		return &o.ObjectMeta, "Deployment"
	case *appsv1.DaemonSet:
		return &o.ObjectMeta, "DaemonSet"
	case *discoveryv1.EndpointSlice:
		return &o.ObjectMeta, "EndpointSlice"
	case *NetworkAttachmentDefinition:
		return &o.ObjectMeta, "NetworkAttachmentDefinition"
	case *networkingv1.NetworkPolicy:
		return &o.ObjectMeta, "NetworkPolicy"
	}
	panic(fmt.Sprintf("topology: unexpected object %T", obj))
}

func qualified(meta *metav1.ObjectMeta) string {
	if meta.Namespace == "" {
		return meta.Name
	}
	return meta.Namespace + "/" + meta.Name
}

func checkDeployment(d *doc, r *report, dep *appsv1.Deployment) {
	if dep.Spec.Replicas == nil {
		one := int32(1)
		dep.Spec.Replicas = &one
	} else if n := *dep.Spec.Replicas; n < 0 || n > maxPods {
		r.errorf(d.at("spec", "replicas"), "spec.replicas %d must be in 0..%d", n, maxPods)
	}
	checkSelector(d, r, dep.Spec.Selector, dep.Spec.Template.Labels)
	checkTemplate(d, r, &dep.Spec.Template)
}

// checkSelector checks that a workload's selector selects its own pods, as
// the API server insists, or the workload would never see its pods.
func checkSelector(d *doc, r *report, sel *metav1.LabelSelector, podLabels map[string]string) {
	pos := d.at("spec", "selector")
	if sel == nil || len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0 {
		r.errorf(pos, "spec.selector is required and must not be empty")
		return
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		r.errorf(pos, "spec.selector: %v", err)
		return
	}
	if !s.Matches(labels.Set(podLabels)) {
		r.errorf(pos, "spec.selector %q does not match spec.template.metadata.labels", s.String())
	}
}

func checkTemplate(d *doc, r *report, t *corev1.PodTemplateSpec) {
	for k, v := range t.Labels {
		checkLabel(r, d.keyAt("spec", "template", "metadata", "labels", k), k, v)
	}
	checkPodSpec(d, r, path{"spec", "template", "spec"}, &t.Spec)
}

// maxPods is more pods than any pod subnet kinn accepts could address
// (a /16 of /30s), and bounds the work a mistyped replica count causes.
const maxPods = 1 << 16

var protocols = []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP}

// checkPodSpec checks what kinn uses of a pod: its containers and their
// ports, and what goes into its resolv.conf, hosts file and hostname. It
// defaults port protocols to TCP.
func checkPodSpec(d *doc, r *report, p path, spec *corev1.PodSpec) {
	checkPodNames(d, r, p, spec)
	if len(spec.Containers) == 0 {
		r.errorf(d.at(p.with("containers")...), "%s: at least one container is required", p.with("containers"))
	}
	if sc := spec.SecurityContext; sc != nil {
		checkIDs(d, r, p.with("securityContext"), sc.RunAsUser, sc.RunAsGroup)
	}
	names := make(map[string]bool)
	portNames := make(map[string]bool)
	for i := range spec.Containers {
		c := &spec.Containers[i]
		cp := p.with("containers", i)
		switch errs := validation.IsDNS1123Label(c.Name); {
		case c.Name == "":
			r.errorf(d.at(cp.with("name")...), "%s.name is required", cp)
		case len(errs) > 0:
			r.errorf(d.at(cp.with("name")...), "%s.name %q is invalid: %s", cp, c.Name, strings.Join(errs, "; "))
		case names[c.Name]:
			r.errorf(d.at(cp.with("name")...), "%s.name %q is used by another container", cp, c.Name)
		}
		names[c.Name] = true
		for j := range c.Ports {
			checkContainerPort(d, r, cp.with("ports", j), &c.Ports[j], portNames)
		}
		checkRunAs(d, r, p, spec.SecurityContext, cp, c.SecurityContext)
	}
}

// checkRunAs checks the user a container runs as (a kinn.dev/run program
// runs as the first's): the container's securityContext over the pod's,
// as the kubelet reads them. Kubernetes would fail to start a container
// whose runAsNonRoot contradicts its runAsUser; kinn says so up front.
func checkRunAs(d *doc, r *report, p path, pod *corev1.PodSecurityContext, cp path, c *corev1.SecurityContext) {
	var user *int64
	var nonRoot *bool
	userAt := p.with("securityContext", "runAsUser")
	if pod != nil {
		user, nonRoot = pod.RunAsUser, pod.RunAsNonRoot
	}
	if c != nil {
		checkIDs(d, r, cp.with("securityContext"), c.RunAsUser, c.RunAsGroup)
		if c.RunAsUser != nil {
			user, userAt = c.RunAsUser, cp.with("securityContext", "runAsUser")
		}
		if c.RunAsNonRoot != nil {
			nonRoot = c.RunAsNonRoot
		}
	}
	if user != nil && *user == 0 && nonRoot != nil && *nonRoot {
		r.errorf(d.at(userAt...), "%s: %s is 0 but runAsNonRoot is true: name another user or drop runAsNonRoot", cp, userAt)
	}
}

// checkIDs checks a securityContext's user and group ids as the API server
// does.
func checkIDs(d *doc, r *report, sc path, user, group *int64) {
	for _, id := range []struct {
		field string
		v     *int64
	}{{"runAsUser", user}, {"runAsGroup", group}} {
		if id.v != nil && (*id.v < 0 || *id.v > math.MaxInt32) {
			at := sc.with(id.field)
			r.errorf(d.at(at...), "%s %d must be in 0..%d", at, *id.v, math.MaxInt32)
		}
	}
}

func checkContainerPort(d *doc, r *report, p path, port *corev1.ContainerPort, names map[string]bool) {
	if port.ContainerPort < 1 || port.ContainerPort > 65535 {
		r.errorf(d.at(p.with("containerPort")...), "%s.containerPort %d must be in 1..65535", p, port.ContainerPort)
	}
	if port.HostPort != 0 && (port.HostPort < 1 || port.HostPort > 65535) {
		r.errorf(d.at(p.with("hostPort")...), "%s.hostPort %d must be in 1..65535", p, port.HostPort)
	}
	checkProtocol(d, r, p, &port.Protocol)
	if port.Name == "" {
		return
	}
	if errs := validation.IsValidPortName(port.Name); len(errs) > 0 {
		r.errorf(d.at(p.with("name")...), "%s.name %q is invalid: %s", p, port.Name, strings.Join(errs, "; "))
	} else if names[port.Name] {
		r.errorf(d.at(p.with("name")...), "%s.name %q is used by another port of the pod", p, port.Name)
	}
	names[port.Name] = true
}

func checkProtocol(d *doc, r *report, p path, proto *corev1.Protocol) {
	if *proto == "" {
		*proto = corev1.ProtocolTCP
	} else if !slices.Contains(protocols, *proto) {
		r.errorf(d.at(p.with("protocol")...), "%s.protocol %q must be TCP, UDP or SCTP", p, *proto)
	}
}
