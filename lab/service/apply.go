package service

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DefaultAffinityTimeout is the apiserver's default ClientIP affinity
// timeout, in seconds (three hours).
const DefaultAffinityTimeout int32 = 10800

// Apply returns copies of svcs with what alloc gave them filled in — the
// ClusterIP, node ports, health check node port and load-balancer
// address — and the remaining
// defaults the apiserver applies, so that the copies look as
// `kubectl get svc -o yaml` shows them. svcs are not changed.
func Apply(svcs []*corev1.Service, alloc Allocations) []*corev1.Service {
	out := make([]*corev1.Service, len(svcs))
	for i, svc := range svcs {
		out[i] = applyOne(svc, alloc)
	}
	return out
}

func applyOne(in *corev1.Service, alloc Allocations) *corev1.Service {
	svc := in.DeepCopy()
	// Status is the controllers' to write: the apiserver drops what a
	// create brings.
	svc.Status = corev1.ServiceStatus{}
	spec := &svc.Spec
	if spec.Type == "" {
		spec.Type = corev1.ServiceTypeClusterIP
	}
	if spec.Type == corev1.ServiceTypeExternalName {
		return svc
	}
	if a, ok := alloc.ClusterIPs[Key(svc)]; ok {
		spec.ClusterIP = a.String()
	} else if spec.ClusterIP == "" && len(spec.ClusterIPs) > 0 {
		spec.ClusterIP = spec.ClusterIPs[0]
	}
	if spec.ClusterIP != "" {
		spec.ClusterIPs = []string{spec.ClusterIP}
	}
	single := corev1.IPFamilyPolicySingleStack
	spec.IPFamilies, spec.IPFamilyPolicy = []corev1.IPFamily{corev1.IPv4Protocol}, &single
	for i := range spec.Ports {
		p := &spec.Ports[i]
		p.Protocol = protocol(p.Protocol)
		if np, ok := alloc.NodePorts[NodePortKey(svc, *p)]; ok {
			p.NodePort = int32(np)
		}
	}
	if hc, ok := alloc.HealthCheck[Key(svc)]; ok {
		spec.HealthCheckNodePort = int32(hc)
	}
	if a, ok := alloc.LoadBalancerIPs[Key(svc)]; ok {
		svc.Status.LoadBalancer.Ingress = ingress(a, alloc.IPMode)
	}
	applyPolicies(svc)
	return svc
}

// applyPolicies fills in the traffic policies and affinity timeout.
func applyPolicies(svc *corev1.Service) {
	spec := &svc.Spec
	if spec.InternalTrafficPolicy == nil {
		cluster := corev1.ServiceInternalTrafficPolicyCluster
		spec.InternalTrafficPolicy = &cluster
	}
	if spec.ExternalTrafficPolicy == "" && (spec.Type == corev1.ServiceTypeNodePort || spec.Type == corev1.ServiceTypeLoadBalancer) {
		spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
	}
	if spec.SessionAffinity == "" {
		spec.SessionAffinity = corev1.ServiceAffinityNone
	}
	if spec.SessionAffinity != corev1.ServiceAffinityClientIP {
		return
	}
	if spec.SessionAffinityConfig == nil {
		spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{}
	}
	if spec.SessionAffinityConfig.ClientIP == nil {
		spec.SessionAffinityConfig.ClientIP = &corev1.ClientIPConfig{}
	}
	if spec.SessionAffinityConfig.ClientIP.TimeoutSeconds == nil {
		t := DefaultAffinityTimeout
		spec.SessionAffinityConfig.ClientIP.TimeoutSeconds = &t
	}
}

// ServiceList wraps Services (as Apply returns them) for -o json|yaml.
func ServiceList(svcs []*corev1.Service) corev1.ServiceList {
	list := corev1.ServiceList{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceList"}, Items: []corev1.Service{}}
	for _, svc := range svcs {
		s := svc.DeepCopy()
		s.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Service"}
		list.Items = append(list.Items, *s)
	}
	return list
}
