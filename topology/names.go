package topology

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Generated pod names look like the ones Kubernetes makes, but are derived
// from the file alone, so the same file always yields the same names and
// "kinn apply" can tell which pods are new:
//
//   - Deployment pods: <deployment>-<pod-template-hash>-<suffix>. The hash
//     is FNV-32a of the template, encoded as the ReplicaSet controller does;
//     it changes when the template does, as a rollout would. The suffix
//     depends only on namespace, name and replica index, so scaling down
//     keeps the pods with the lowest indexes.
//   - DaemonSet pods: <daemonset>-<suffix>, the suffix derived from the node.
//
// Both are generateName prefixes (<deployment>-<hash>- and <daemonset>-),
// cut as the API server cuts them, so a generated name is at most 63
// characters however long the workload's name.

// alphabet is the one Kubernetes uses for generated names: no vowels (no
// words) and no easily confused characters.
const alphabet = "bcdfghjklmnpqrstvwxz2456789"

// templateHash is the pod-template-hash label value of a template.
func templateHash(t *corev1.PodTemplateSpec) string {
	data, err := json.Marshal(t)
	if err != nil {
		// A decoded template always marshals; fall back to a fixed value
		// rather than panic.
		data = nil
	}
	h := fnv.New32a()
	h.Write(data)
	return rand.SafeEncodeString(strconv.FormatUint(uint64(h.Sum32()), 10))
}

// suffixLen is the length of a generated name's suffix, as in Kubernetes.
const suffixLen = 5

// suffix is a 5-character name suffix derived from parts.
func suffix(parts ...any) string {
	h := fnv.New64a()
	for _, p := range parts {
		fmt.Fprintf(h, "%v\x00", p)
	}
	x := h.Sum64()
	b := make([]byte, suffixLen)
	for i := range b {
		b[i] = alphabet[x%uint64(len(alphabet))]
		x /= uint64(len(alphabet))
	}
	return string(b)
}

// uniqueName returns the first of gen(0), gen(1), ... not yet used in the
// namespace, and marks it used. Collisions are unlikely; perturbing with the
// attempt number keeps the result deterministic.
func uniqueName(used map[string]bool, ns string, gen func(attempt int) string) string {
	for attempt := 0; ; attempt++ {
		name := gen(attempt)
		if !used[ns+"/"+name] {
			used[ns+"/"+name] = true
			return name
		}
	}
}

// Lab names end up in every name kinn derives: the nodes are
// <lab>-control-plane, <lab>-worker2, ... as kind names them, and a node's
// name is also its kubernetes.io/hostname label and its hostname, so it
// must stay a DNS-1123 label of at most 63 characters. The longest suffix
// is "-control-plane" followed by the highest node index, which MaxNodes
// bounds. Everything else built from a lab name has more room: namespace
// names (kinn.<lab>.node.<node>, at most 255 bytes under /run/netns), the
// state and runtime directories, and the lab process's socket
// (/run/kinn/<lab>/kinn.sock, at most 107 bytes).

// MaxNodes is the most nodes a lab may have. It bounds the node index in
// node names, and so the lab name's length.
const MaxNodes = 999

// longestNodeSuffix is what the node with the longest name (the MaxNodes-th
// control plane) adds to the lab name.
const longestNodeSuffix = "-" + string(RoleControlPlane) + "999"

// MaxLabNameLen is the longest lab name whose node names are all valid
// labels: 63 - len("-control-plane999") = 46.
const MaxLabNameLen = validation.DNS1123LabelMaxLength - len(longestNodeSuffix)

// CheckLabName checks a lab name, wherever it comes from (the file's name,
// the command line, the environment). Its error says what a valid name is.
func CheckLabName(name string) error {
	if len(name) <= MaxLabNameLen && len(validation.IsDNS1123Label(name)) == 0 {
		return nil
	}
	return fmt.Errorf("invalid lab name %q: a lab name is 1 to %d lowercase letters, digits or '-', "+
		"starting and ending with a letter or digit (it becomes part of node, namespace and directory names)", name, MaxLabNameLen)
}

// maxGeneratedPrefix is how much of a generateName prefix the API server
// keeps: it cuts the prefix so that with the 5-character random suffix the
// name is at most 63 characters (apiserver's names.SimpleNameGenerator).
const maxGeneratedPrefix = validation.DNS1123LabelMaxLength - suffixLen

// generatedName is the name the API server makes of generateName prefix
// and the suffix.
func generatedName(prefix, suffix string) string {
	if len(prefix) > maxGeneratedPrefix {
		prefix = prefix[:maxGeneratedPrefix]
	}
	return prefix + suffix
}
