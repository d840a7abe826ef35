package lab

import (
	"errors"
	"fmt"
	"os"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"kinn.dev/kinn/lab/cni"
	"kinn.dev/kinn/lab/dns"
	"kinn.dev/kinn/lab/plan"
	"kinn.dev/kinn/topology"
)

// fillPodDNS gives every pod of p its resolv.conf values, which the
// runtime passes to the plugins in the `dns` capability, as the kubelet
// hands its DNSConfig to containerd.
func fillPodDNS(t *topology.Lab, svcs []*corev1.Service, p *plan.Lab) {
	byKey := map[string]*corev1.Pod{}
	for _, tp := range t.Pods {
		byKey[tp.Key()] = tp.Pod
	}
	server := clusterDNS(t, svcs)
	var hostResolv string
	for i, pod := range p.Pods {
		tp := byKey[pod.Key()]
		if tp == nil {
			continue
		}
		if tp.Spec.DNSPolicy == corev1.DNSDefault && hostResolv == "" {
			b, _ := os.ReadFile("/etc/resolv.conf") // the node's, which Default passes on
			hostResolv = string(b)
		}
		c := dns.PodDNS(tp, server, t.Networking.DNSDomain, hostResolv)
		p.Pods[i].DNS = &c
	}
}

// checkPodArgs finds, before anything is created, pods whose annotations
// the runtime cannot hand to the plugins (a bandwidth that is no
// quantity, a bad MAC or CNI_ARGS), all of them at once. containerd would
// fail such a pod's sandbox; kinn says so before the lab changes.
func checkPodArgs(t *topology.Lab) error {
	var errs []error
	for _, tp := range t.Pods {
		if tp.Pod != nil {
			errs = append(errs, cni.CheckPod(plan.Pod{Namespace: tp.Namespace, Name: tp.Name, Annotations: tp.Pod.Annotations}))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return &ConfigError{err}
	}
	return nil
}

// staleConfig lists the pods still attached with a previous configuration
// of the lab's chain: an edited `cni` block reaches a running pod only
// when it is attached again.
func staleConfig(rt *cni.Runtime, p *plan.Lab) ([]string, error) {
	if rt.Chain == nil {
		return nil, nil // kinn's own configuration follows the plan
	}
	byNode := map[string][]plan.Pod{}
	for _, pod := range p.Pods {
		if pod.Attached() {
			byNode[pod.Node] = append(byNode[pod.Node], pod)
		}
	}
	var out []string
	for _, n := range p.Nodes {
		stale, err := rt.Stale(n, byNode[n.Name])
		if err != nil {
			return out, err
		}
		for _, pod := range stale {
			out = append(out, pod.Key())
		}
	}
	return out, nil
}

// warnChain reports what up should not pass over in silence about the
// lab's chain: capabilities its plugins declare that kinn does not
// supply, and pods still running with a previous configuration.
func warnChain(o Options, rt *cni.Runtime, p *plan.Lab) []string {
	if rt.Chain == nil || len(p.Nodes) == 0 {
		return nil
	}
	ws, err := rt.Chain.Unsupplied(p.Nodes[0])
	if err != nil {
		ws = append(ws, err.Error())
	}
	stale, err := staleConfig(rt, p)
	if err != nil {
		ws = append(ws, err.Error())
	}
	if len(stale) > 0 {
		ws = append(ws, fmt.Sprintf("%d running pods still use the previous cni configuration (%s): "+
			"a changed cni block reaches a pod when it is attached again: run `kinn cni reattach --all --name %s`",
			len(stale), abbreviate(stale, 5), p.Name))
	}
	for _, w := range ws {
		o.progress("warning: %s", w)
	}
	return ws
}

// abbreviate joins the first n of keys, saying how many more there are.
func abbreviate(keys []string, n int) string {
	if len(keys) <= n {
		return strings.Join(keys, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(keys[:n], ", "), len(keys)-n)
}
