package topology

import (
	"fmt"
	"strings"
)

// Apply merges the objects of applied into raw, the topology a running lab
// was brought up from, as `kubectl apply` would: each object replaces the
// one of the same kind, namespace and name, or is added at the end. It is
// all or nothing. applied is first checked on its own, against raw's
// cluster, so that its problems point into appliedFile; then the merged
// topology is checked, each problem at the line of the file its object came
// from. A cluster document cannot be applied: a running lab's nodes and
// networks are fixed.
func Apply(raw []byte, file string, applied []byte, appliedFile string) ([]byte, error) {
	base, err := readRecorded(raw, file)
	if err != nil {
		return nil, err
	}
	in, err := readStream(appliedFile, applied)
	if err != nil {
		return nil, err
	}
	if err := checkApplied(base, in); err != nil {
		return nil, err
	}
	for _, c := range in.chunks {
		id, ok := c.id()
		if !ok {
			continue
		}
		if i := base.find(id); i >= 0 {
			base.chunks[i] = c
		} else {
			base.chunks = append(base.chunks, c)
		}
	}
	if err := check(base.docs()); err != nil {
		return nil, fmt.Errorf("%s does not fit the lab's topology %s:\n%w", appliedFile, file, err)
	}
	return reparse(base)
}

// checkApplied checks the applied objects with the lab's cluster, and
// that there is something to apply and no cluster to change.
func checkApplied(base, in *stream) error {
	var ps Problems
	docs := clusterDocs(base)
	for _, c := range in.chunks {
		switch {
		case c.d == nil:
		case c.isCluster():
			ps = append(ps, Problem{c.d.pos(c.d.root), "a running lab's cluster cannot change: remove this cluster document " +
				"(to change nodes or networking, recreate the lab with kinn down and kinn up)"})
		default:
			if p, ok := unmodeled(c.d); ok {
				ps = append(ps, p)
			}
			docs = append(docs, c.d)
		}
	}
	if len(ps) > 0 {
		return ps
	}
	if len(docs) == len(clusterDocs(base)) {
		return fmt.Errorf("%s holds no objects to apply", in.file)
	}
	return check(docs)
}

// unmodeled: a file may carry objects kinn skips, but applying one would
// do nothing, or drop the object it replaces, without a word.
func unmodeled(d *doc) (Problem, bool) {
	scratch := &report{}
	apiVersion, kind, ok := typeOf(d, scratch)
	if !ok {
		return Problem{}, false // check reports it
	}
	if _, ok := decodeObject(d, scratch, apiVersion, kind); ok || len(scratch.warns) == 0 {
		return Problem{}, false
	}
	w := scratch.warns[0]
	return Problem{w.Pos, strings.Replace(w.Msg, "skipping", "cannot apply", 1)}, true
}

func clusterDocs(s *stream) []*doc {
	for _, c := range s.chunks {
		if c.isCluster() {
			return []*doc{c.d}
		}
	}
	return nil
}

// readRecorded reads a lab's recorded topology, which parsed when the lab
// came up; failing now means the record is damaged.
func readRecorded(raw []byte, file string) (*stream, error) {
	s, err := readStream(file, raw)
	if err != nil {
		return nil, fmt.Errorf("the lab's recorded topology %s does not parse: %w", file, err)
	}
	return s, nil
}

// reparse renders s and checks the text with Parse, which is what the lab
// will load; a failure here is kinn's bug, not the user's.
func reparse(s *stream) ([]byte, error) {
	out := s.bytes()
	if _, _, err := Parse(s.file, out); err != nil {
		return nil, fmt.Errorf("edited topology %s does not parse (a kinn bug; the lab is unchanged):\n%w", s.file, err)
	}
	return out, nil
}

// kinds maps kubectl's spellings of the kinds kinn models to the kind.
var kinds = map[string]string{
	"pod": "Pod", "pods": "Pod", "po": "Pod",
	"deployment": "Deployment", "deployments": "Deployment", "deploy": "Deployment",
	"service": "Service", "services": "Service", "svc": "Service",
	"daemonset": "DaemonSet", "daemonsets": "DaemonSet", "ds": "DaemonSet",
	"namespace": "Namespace", "namespaces": "Namespace", "ns": "Namespace",
	"endpointslice": "EndpointSlice", "endpointslices": "EndpointSlice",
	"network-attachment-definition": "NetworkAttachmentDefinition", "network-attachment-definitions": "NetworkAttachmentDefinition",
	"networkattachmentdefinition": "NetworkAttachmentDefinition", "net-attach-def": "NetworkAttachmentDefinition",
	"networkpolicy": "NetworkPolicy", "networkpolicies": "NetworkPolicy", "netpol": "NetworkPolicy",
}

// Kind returns the kind for a kubectl spelling (pod, pods, po, svc, ...).
func Kind(spelling string) (string, error) {
	s := strings.ToLower(spelling)
	s = strings.TrimSuffix(s, ".v1")
	s = strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(s, ".apps"), ".discovery.k8s.io"), ".k8s.cni.cncf.io")
	s = strings.TrimSuffix(s, ".networking.k8s.io")
	if k, ok := kinds[s]; ok {
		return k, nil
	}
	return "", fmt.Errorf("unknown kind %q: use pod, deployment, service, daemonset, namespace, endpointslice, networkpolicy or net-attach-def", spelling)
}

// Delete removes an object from raw; kind may be any kubectl spelling and
// namespace "" means "default". Deleting a namespace deletes every object
// in it, as Kubernetes does.
func Delete(raw []byte, kind, namespace, name string) ([]byte, error) {
	k, err := Kind(kind)
	if err != nil {
		return nil, err
	}
	s, err := readRecorded(raw, recorded)
	if err != nil {
		return nil, err
	}
	if k == "Namespace" {
		if err := s.deleteNamespace(name); err != nil {
			return nil, err
		}
		return reparse(s)
	}
	if namespace == "" {
		namespace = "default"
	}
	i := s.find(objectID{k, namespace, name})
	if i < 0 {
		return nil, fmt.Errorf("%s %q not found in namespace %q", strings.ToLower(k), name, namespace)
	}
	s.chunks = append(s.chunks[:i], s.chunks[i+1:]...)
	return reparse(s)
}

// deleteNamespace removes a namespace's document and its objects. Like
// the apiserver, it refuses the namespaces the cluster itself needs.
func (s *stream) deleteNamespace(name string) error {
	if name == "default" || name == "kube-system" {
		return fmt.Errorf("namespace %q cannot be deleted: the cluster needs it", name)
	}
	kept := s.chunks[:0:0]
	for _, c := range s.chunks {
		if id, ok := c.id(); ok && (id == objectID{"Namespace", "", name} || id.namespace == name) {
			continue
		}
		kept = append(kept, c)
	}
	if len(kept) == len(s.chunks) {
		return fmt.Errorf("namespace %q not found", name)
	}
	s.chunks = kept
	return nil
}

// recorded names the lab's topology in positions when the caller gives no
// file name.
const recorded = "<lab topology>"
