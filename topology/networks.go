package topology

// Several networks per pod, as Multus gives them: NetworkAttachmentDefinitions
// (k8s.cni.cncf.io/v1) hold CNI configurations, and a pod names the ones it
// wants in its k8s.v1.cni.cncf.io/networks annotation, either as a comma
// list ("net-a,other/net-b@eth5") or as JSON ([{"name": "net-a",
// "interface": "net1"}]). Each becomes one more interface in the pod, net1,
// net2… unless the annotation names it, attached by its own configuration
// after the default network.

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Multus's names.
const (
	NetworksAnnotation      = "k8s.v1.cni.cncf.io/networks"
	NetworkStatusAnnotation = "k8s.v1.cni.cncf.io/network-status"
	nadAPIVersion           = "k8s.cni.cncf.io/v1"
)

// NetworkAttachmentDefinition is the object as users write it.
type NetworkAttachmentDefinition struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              struct {
		Config string `json:"config"` // a CNI network configuration or list, as JSON
	} `json:"spec"`
}

// NetworkAttachment is a resolved NetworkAttachmentDefinition.
type NetworkAttachment struct {
	Namespace, Name string
	Config          string
}

// Key is namespace/name, as network-status names networks.
func (a NetworkAttachment) Key() string { return a.Namespace + "/" + a.Name }

// PodNetwork is one extra network of a pod: the attachment and the
// interface it gets in the pod.
type PodNetwork struct {
	Namespace, Name string
	Interface       string
}

// Key is the attachment's namespace/name.
func (n PodNetwork) Key() string { return n.Namespace + "/" + n.Name }

// checkNetworkAttachment checks that spec.config is a CNI configuration:
// one plugin (a type) or a list (plugins), with a name.
func checkNetworkAttachment(d *doc, r *report, nad *NetworkAttachmentDefinition) NetworkAttachment {
	at := d.at("spec", "config")
	var conf struct {
		Name    string            `json:"name"`
		Type    string            `json:"type"`
		Plugins []json.RawMessage `json:"plugins"`
	}
	switch err := json.Unmarshal([]byte(nad.Spec.Config), &conf); {
	case strings.TrimSpace(nad.Spec.Config) == "":
		r.errorf(at, "spec.config is required: a CNI network configuration as JSON")
	case err != nil:
		r.errorf(at, "spec.config is not a CNI configuration: %v", err)
	case conf.Type == "" && len(conf.Plugins) == 0:
		r.errorf(at, "spec.config names no plugin: give it a type (one plugin) or plugins (a list)")
	case conf.Name == "":
		r.errorf(at, "spec.config has no name: CNI needs the network's name")
	case slices.ContainsFunc(pluginTypes(conf.Type, conf.Plugins), isKinnPlugin):
		// kinn's plugin names the node's end of a pod's veth after the
		// container alone: a second attachment would take eth0's.
		r.errorf(at, "spec.config uses kinn's own plugin, which serves only a pod's default network: use bridge, macvlan or another plugin for extra networks")
	}
	return NetworkAttachment{Namespace: nad.Namespace, Name: nad.Name, Config: nad.Spec.Config}
}

// pluginTypes are the types of a configuration's plugins: its own, or its
// list's.
func pluginTypes(typ string, plugins []json.RawMessage) []string {
	if typ != "" {
		return []string{typ}
	}
	var out []string
	for _, raw := range plugins {
		var p struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(raw, &p) == nil {
			out = append(out, p.Type)
		}
	}
	return out
}

func isKinnPlugin(typ string) bool { return typ == "kinn" || typ == "kinn-cni" }

// ParseNetworks reads a pod's networks annotation as Multus does; the
// namespace of a network defaults to the pod's, its interface to net<i>
// for the i-th network (from 1).
func ParseNetworks(value, podNamespace string) ([]PodNetwork, error) {
	value = strings.TrimSpace(value)
	if value == "" {
		return nil, nil
	}
	var out []PodNetwork
	if strings.HasPrefix(value, "[") {
		var sel []struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
			Interface string `json:"interface"`
		}
		if err := json.Unmarshal([]byte(value), &sel); err != nil {
			return nil, fmt.Errorf("not a JSON list of networks: %v", err)
		}
		for _, s := range sel {
			out = append(out, PodNetwork{Namespace: s.Namespace, Name: s.Name, Interface: s.Interface})
		}
	} else {
		for _, item := range strings.Split(value, ",") {
			item = strings.TrimSpace(item)
			var n PodNetwork
			n.Name, n.Interface, _ = strings.Cut(item, "@")
			if ns, name, ok := strings.Cut(n.Name, "/"); ok {
				n.Namespace, n.Name = ns, name
			}
			out = append(out, n)
		}
	}
	seen := map[string]bool{"eth0": true}
	for i := range out {
		n := &out[i]
		if n.Namespace == "" {
			n.Namespace = podNamespace
		}
		if n.Interface == "" {
			n.Interface = fmt.Sprintf("net%d", i+1)
		}
		if errs := validation.IsDNS1123Subdomain(n.Name); len(errs) > 0 {
			return nil, fmt.Errorf("network %q: %s", n.Name, strings.Join(errs, "; "))
		}
		if len(n.Interface) > 15 || strings.ContainsAny(n.Interface, "/: ") {
			return nil, fmt.Errorf("interface %q of network %s: at most 15 characters, no '/', ':' or space", n.Interface, n.Name)
		}
		if seen[n.Interface] {
			return nil, fmt.Errorf("interface %s is named twice (eth0 is the default network's)", n.Interface)
		}
		seen[n.Interface] = true
	}
	return out, nil
}

// checkPodNetworks checks a workload's networks annotation (at path p,
// the metadata holding it) against the lab's attachments.
func checkPodNetworks(d *doc, r *report, p path, meta *metav1.ObjectMeta, nads []NetworkAttachment) {
	value, ok := meta.Annotations[NetworksAnnotation]
	if !ok {
		return
	}
	at := d.at(p.with("annotations", NetworksAnnotation)...)
	nets, err := ParseNetworks(value, meta.Namespace)
	if err != nil {
		r.errorf(at, "%s: %v", NetworksAnnotation, err)
		return
	}
	for _, n := range nets {
		if !slices.ContainsFunc(nads, func(a NetworkAttachment) bool { return a.Key() == n.Key() }) {
			r.errorf(at, "%s: no NetworkAttachmentDefinition %s in the lab: add one (apiVersion %s)", NetworksAnnotation, n.Key(), nadAPIVersion)
		}
	}
}

// resolvePodNetworks checks every workload's annotation and gives each
// placed pod its networks.
func resolvePodNetworks(lab *Lab, workloads []object, r *report) {
	for _, o := range workloads {
		switch obj := o.obj.(type) {
		case *corev1.Pod:
			checkPodNetworks(o.d, r, path{"metadata"}, &obj.ObjectMeta, lab.NetworkAttachments)
		case *appsv1.Deployment:
			meta := obj.Spec.Template.ObjectMeta
			meta.Namespace = obj.Namespace
			checkPodNetworks(o.d, r, path{"spec", "template", "metadata"}, &meta, lab.NetworkAttachments)
		case *appsv1.DaemonSet:
			meta := obj.Spec.Template.ObjectMeta
			meta.Namespace = obj.Namespace
			checkPodNetworks(o.d, r, path{"spec", "template", "metadata"}, &meta, lab.NetworkAttachments)
		}
	}
	for i := range lab.Pods {
		p := &lab.Pods[i]
		if p.Pod != nil {
			p.Networks, _ = ParseNetworks(p.Pod.Annotations[NetworksAnnotation], p.Namespace)
		}
	}
}
