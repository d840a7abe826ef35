package topology

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Services are checked as the API server would check them, minus what needs
// a running cluster. ClusterIPs and NodePorts are not allocated here: that
// needs the lab's state, so that they stay stable across edits.

var serviceTypes = []corev1.ServiceType{
	corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort,
	corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeExternalName,
}

const (
	nodePortMin = 30000
	nodePortMax = 32767
)

// checkService checks svc and applies the API server's defaults to it.
// nodePorts records the node ports in use across services, as
// "PORT/PROTOCOL" -> who uses it.
func checkService(d *doc, r *report, svc *corev1.Service, subnet netip.Prefix, nodePorts map[string]string) {
	spec := &svc.Spec
	if spec.Type == "" {
		spec.Type = corev1.ServiceTypeClusterIP
	} else if !slices.Contains(serviceTypes, spec.Type) {
		r.errorf(d.at("spec", "type"), "spec.type %q must be one of %v", spec.Type, serviceTypes)
	}
	if spec.SessionAffinity == "" {
		spec.SessionAffinity = corev1.ServiceAffinityNone
	} else if spec.SessionAffinity != corev1.ServiceAffinityNone && spec.SessionAffinity != corev1.ServiceAffinityClientIP {
		r.errorf(d.at("spec", "sessionAffinity"), "spec.sessionAffinity %q must be None or ClientIP", spec.SessionAffinity)
	}
	checkClusterIP(d, r, spec.ClusterIP, subnet)
	checkLoadBalancerSpec(d, r, spec)
	switch {
	case spec.Type == corev1.ServiceTypeExternalName && spec.ExternalName == "":
		r.errorf(d.at("spec"), "spec.externalName is required for type ExternalName")
	case spec.Type != corev1.ServiceTypeExternalName && spec.ClusterIP != corev1.ClusterIPNone && len(spec.Ports) == 0:
		r.errorf(d.at("spec", "ports"), "spec.ports: at least one port is required")
	}
	names := make(map[string]bool)
	ports := make(map[string]bool)
	for i := range spec.Ports {
		p := path{"spec", "ports", i}
		port := &spec.Ports[i]
		checkServicePortName(d, r, p, port.Name, len(spec.Ports) > 1, names)
		if port.Port < 1 || port.Port > 65535 {
			r.errorf(d.at(p.with("port")...), "%s.port %d must be in 1..65535", p, port.Port)
		}
		checkProtocol(d, r, p, &port.Protocol)
		if key := fmt.Sprintf("%d/%s", port.Port, port.Protocol); ports[key] {
			r.errorf(d.at(p.with("port")...), "%s: port %s is listed twice", p, key)
		} else {
			ports[key] = true
		}
		checkTargetPort(d, r, p, port)
		checkNodePort(d, r, p, svc, port, nodePorts)
	}
}

func checkClusterIP(d *doc, r *report, ip string, subnet netip.Prefix) {
	if ip == "" || ip == corev1.ClusterIPNone {
		return
	}
	addr, err := netip.ParseAddr(ip)
	switch {
	case err != nil || !addr.Is4():
		r.errorf(d.at("spec", "clusterIP"), "spec.clusterIP %q must be \"None\" or an IPv4 address", ip)
	case subnet.IsValid() && !subnet.Contains(addr):
		r.errorf(d.at("spec", "clusterIP"), "spec.clusterIP %s is outside serviceSubnet %s", ip, subnet)
	}
}

// checkServicePortName: names tell ports apart in Endpoints, so they are
// required as soon as there are two.
func checkServicePortName(d *doc, r *report, p path, name string, required bool, names map[string]bool) {
	if name == "" {
		if required {
			r.errorf(d.at(p...), "%s.name is required when a Service has more than one port", p)
		}
		return
	}
	if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
		r.errorf(d.at(p.with("name")...), "%s.name %q is invalid: %s", p, name, strings.Join(errs, "; "))
	} else if names[name] {
		r.errorf(d.at(p.with("name")...), "%s.name %q is used by another port", p, name)
	}
	names[name] = true
}

func checkTargetPort(d *doc, r *report, p path, port *corev1.ServicePort) {
	tp := port.TargetPort
	switch {
	case tp.Type == intstr.Int && tp.IntVal == 0:
		port.TargetPort = intstr.FromInt32(port.Port)
	case tp.Type == intstr.Int && (tp.IntVal < 1 || tp.IntVal > 65535):
		r.errorf(d.at(p.with("targetPort")...), "%s.targetPort %d must be in 1..65535", p, tp.IntVal)
	case tp.Type == intstr.String:
		if errs := validation.IsValidPortName(tp.StrVal); len(errs) > 0 {
			r.errorf(d.at(p.with("targetPort")...), "%s.targetPort %q must be a port number or a container port name: %s", p, tp.StrVal, strings.Join(errs, "; "))
		}
	}
}

func checkNodePort(d *doc, r *report, p path, svc *corev1.Service, port *corev1.ServicePort, used map[string]string) {
	if port.NodePort == 0 {
		return
	}
	pos := d.at(p.with("nodePort")...)
	if t := svc.Spec.Type; t != corev1.ServiceTypeNodePort && t != corev1.ServiceTypeLoadBalancer {
		r.errorf(pos, "%s.nodePort is only allowed for type NodePort or LoadBalancer, not %s", p, t)
		return
	}
	if port.NodePort < nodePortMin || port.NodePort > nodePortMax {
		r.errorf(pos, "%s.nodePort %d must be in %d..%d", p, port.NodePort, nodePortMin, nodePortMax)
		return
	}
	key := fmt.Sprintf("%d/%s", port.NodePort, port.Protocol)
	if first, dup := used[key]; dup {
		r.errorf(pos, "%s.nodePort %s is already used by %s", p, key, first)
		return
	}
	used[key] = fmt.Sprintf("Service %s/%s (line %d)", svc.Namespace, svc.Name, pos.Line)
}
