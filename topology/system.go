package topology

import (
	"cmp"
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// What every Kubernetes cluster has without anyone writing it: the
// `kubernetes` Service on the service subnet's first address (the API
// server, which the lab process stands in for on the control plane's port
// 6443), and kubeadm's CoreDNS: the `kube-dns` Service on the tenth address
// in front of two DNS pods, which the lab process serves. A file that
// defines one of these objects itself keeps its own.

// systemSource names the built-in objects in messages.
const systemSource = "<cluster add-ons>"

// Labels and names of the cluster DNS, as kubeadm deploys it.
const (
	DNSServiceName = "kube-dns"
	DNSLabelKey    = "k8s-app"
	DNSLabelValue  = "kube-dns"
	APIServerPort  = 6443
)

const systemYAML = `apiVersion: v1
kind: Service
metadata:
  name: kubernetes
  namespace: default
  labels: {component: apiserver, provider: kubernetes}
  annotations: {kinn.dev/add-on: "true"}
spec:
  clusterIP: %s
  ports: [{name: https, port: 443, protocol: TCP, targetPort: %d}]
---
apiVersion: v1
kind: Service
metadata:
  name: kube-dns
  namespace: kube-system
  labels: {k8s-app: kube-dns, kubernetes.io/cluster-service: "true", kubernetes.io/name: CoreDNS}
  annotations: {kinn.dev/add-on: "true"}
spec:
  clusterIP: %s
  selector: {k8s-app: kube-dns}
  ports:
  - {name: dns, port: 53, protocol: UDP, targetPort: 53}
  - {name: dns-tcp, port: 53, protocol: TCP, targetPort: 53}
  - {name: metrics, port: 9153, protocol: TCP, targetPort: 9153}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: coredns
  namespace: kube-system
  labels: {k8s-app: kube-dns}
  annotations: {kinn.dev/add-on: "true"}
spec:
  replicas: 2
  selector: {matchLabels: {k8s-app: kube-dns}}
  template:
    metadata:
      labels: {k8s-app: kube-dns}
      annotations: {kinn.dev/add-on: "true"}
    spec:
      priorityClassName: system-cluster-critical
      dnsPolicy: Default
      tolerations:
      - {key: CriticalAddonsOnly, operator: Exists}
      - {key: node-role.kubernetes.io/control-plane, effect: NoSchedule}
      containers:
      - name: coredns
        image: registry.k8s.io/coredns/coredns:v1.12.0
        args: [-conf, /etc/coredns/Corefile]
        ports:
        - {name: dns, containerPort: 53, protocol: UDP}
        - {name: dns-tcp, containerPort: 53, protocol: TCP}
        - {name: metrics, containerPort: 9153, protocol: TCP}
`

// AddOnAnnotation marks the objects kinn adds to every lab.
const AddOnAnnotation = "kinn.dev/add-on"

// IsAddOn reports whether an object is one kinn added, not the file's.
func IsAddOn(meta metav1.Object) bool { return meta.GetAnnotations()[AddOnAnnotation] == "true" }

// IsDNSPod reports whether a pod is one of the cluster DNS's, which the
// lab process serves with its DNS server instead of netexec.
func IsDNSPod(p *corev1.Pod) bool {
	return p.Namespace == metav1.NamespaceSystem && p.Labels[DNSLabelKey] == DNSLabelValue
}

// ServiceIP is the n-th address of the service subnet (kubeadm: 1 for the
// API server, 10 for DNS).
func ServiceIP(subnet netip.Prefix, n int) netip.Addr {
	a := subnet.Masked().Addr()
	for range n {
		a = a.Next()
	}
	return a
}

// systemObjects are the add-ons the file does not define itself. A file
// with problems gets none: they would only add noise to its report.
func systemObjects(lab *Lab, objs []object, r *report) []object {
	if len(r.errs) > 0 {
		return nil
	}
	sub := lab.Networking.ServiceSubnet
	data := fmt.Sprintf(systemYAML, ServiceIP(sub, 1), APIServerPort, ServiceIP(sub, 10))
	have := map[string]bool{}
	for _, o := range objs {
		meta, kind := objectMeta(o.obj)
		have[kind+"/"+cmp.Or(meta.Namespace, metav1.NamespaceDefault)+"/"+meta.Name] = true
	}
	var out []object
	for _, d := range splitDocuments(systemSource, []byte(data), r) {
		apiVersion, kind, _ := typeOf(d, r)
		o, ok := decodeObject(d, r, apiVersion, kind)
		if !ok {
			continue
		}
		meta, k := objectMeta(o.obj)
		if !have[k+"/"+meta.Namespace+"/"+meta.Name] {
			out = append(out, o)
		}
	}
	return out
}
