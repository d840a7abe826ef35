package topology

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/rand"
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

// suffix is a 5-character name suffix derived from parts.
func suffix(parts ...any) string {
	h := fnv.New64a()
	for _, p := range parts {
		fmt.Fprintf(h, "%v\x00", p)
	}
	x := h.Sum64()
	b := make([]byte, 5)
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
