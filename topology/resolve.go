package topology

import (
	"strings"

	"go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// resolve turns the documents into a Lab. Each step reports what it finds
// wrong and carries on with a best guess, so that one pass shows the user
// every problem; the Lab is discarded if anything was reported.
func resolve(file string, docs []*doc, r *report, live Live) *Lab {
	lab := &Lab{Source: file}
	var cluster *doc
	var cf *clusterFile
	var objs []object
	for _, d := range docs {
		apiVersion, kind, ok := typeOf(d, r)
		if !ok {
			continue
		}
		if kind == "Cluster" && (apiVersion == kindAPIVersion || apiVersion == kinnAPIVersion) {
			if cluster != nil {
				r.errorf(d.keyAt("kind"), "a second cluster document (the first is at line %d); a file describes one cluster", cluster.root.Line)
				continue
			}
			cluster, cf = d, &clusterFile{}
			decode(d, r, cf, apiVersion == kinnAPIVersion)
			continue
		}
		if o, ok := decodeObject(d, r, apiVersion, kind); ok {
			objs = append(objs, o)
		}
	}
	resolveCluster(cluster, cf, r, lab)
	objs = append(objs, systemObjects(lab, objs, r)...)
	resolveObjects(lab, objs, r, live)
	return lab
}

// typeOf reads apiVersion and kind, which say what type to decode into.
func typeOf(d *doc, r *report) (apiVersion, kind string, ok bool) {
	var missing []string
	for _, name := range []string{"apiVersion", "kind"} {
		if !d.has(name) {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		r.errorf(d.pos(d.root), "document has no %s: every document needs apiVersion and kind", strings.Join(missing, " or "))
		return "", "", false
	}
	apiVersion, aok := stringField(d, r, "apiVersion")
	kind, kok := stringField(d, r, "kind")
	return apiVersion, kind, aok && kok
}

func stringField(d *doc, r *report, name string) (string, bool) {
	_, v, _ := d.lookup(path{name})
	v = deref(v)
	if v == nil || v.Kind != yaml.ScalarNode || v.Tag != "!!str" || v.Value == "" {
		r.errorf(d.at(name), "%s must be a non-empty string, not %s", name, describe(v))
		return "", false
	}
	return v.Value, true
}

// An object is a decoded Kubernetes object and the document it came from.
type object struct {
	d   *doc
	obj any // *corev1.Namespace, *corev1.Pod, *corev1.Service, *appsv1.Deployment, *appsv1.DaemonSet, *discoveryv1.EndpointSlice or *NetworkAttachmentDefinition
}

func decodeObject(d *doc, r *report, apiVersion, kind string) (object, bool) {
	var obj any
	switch apiVersion + " " + kind {
	case "v1 Namespace":
		obj = &corev1.Namespace{}
	case "v1 Pod":
		obj = &corev1.Pod{}
	case "v1 Service":
		obj = &corev1.Service{}
	case "apps/v1 Deployment":
		obj = &appsv1.Deployment{}
	case "apps/v1 DaemonSet":
		obj = &appsv1.DaemonSet{}
	case "discovery.k8s.io/v1 EndpointSlice":
		obj = &discoveryv1.EndpointSlice{}
	case nadAPIVersion + " NetworkAttachmentDefinition":
		obj = &NetworkAttachmentDefinition{}
	case "networking.k8s.io/v1 NetworkPolicy":
		obj = &networkingv1.NetworkPolicy{}
	default:
		if kind == "Cluster" && (strings.HasPrefix(apiVersion, "kind.x-k8s.io/") || strings.HasPrefix(apiVersion, "kinn.dev/")) {
			r.errorf(d.at("apiVersion"), "unsupported cluster apiVersion %q; use %s or %s", apiVersion, kindAPIVersion, kinnAPIVersion)
		} else {
			r.warnf(d.at("kind"), "skipping %s %s: kinn only models Namespaces, Pods, Deployments, DaemonSets, Services, EndpointSlices, NetworkPolicies and NetworkAttachmentDefinitions", apiVersion, kind)
		}
		return object{}, false
	}
	if !decode(d, r, obj, false) {
		return object{}, false
	}
	return object{d: d, obj: obj}, true
}
