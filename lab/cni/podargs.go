package cni

import (
	"errors"
	"fmt"
	"math"
	"net"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/containernetworking/cni/libcni"
	"k8s.io/apimachinery/pkg/api/resource"

	"kinn.dev/kinn/lab/plan"
)

// What containerd's CRI plugin hands the plugins for a pod, beyond its
// address (internal/cri/server/sandbox_run.go, cniNamespaceOpts): CNI_ARGS
// with the pod's identity, the pod's annotations whole in the
// `io.kubernetes.cri.pod-annotations` capability, `bandwidth` from the
// kubelet's traffic-shaping annotations, `dns` from the pod's DNSConfig.
// kinn adds two things containerd has no standard for, under its own
// annotations: a `mac` for the pod's interface, and extra CNI_ARGS.

// Pod annotations the runtime reads.
const (
	AnnotationIngressBandwidth = "kubernetes.io/ingress-bandwidth"
	AnnotationEgressBandwidth  = "kubernetes.io/egress-bandwidth"
	AnnotationMAC              = "kinn.dev/mac"
	AnnotationCNIArgs          = "kinn.dev/cni-args"
)

// CapPodAnnotations is containerd's capability carrying the pod's
// annotations (its annotations.PodAnnotations).
const CapPodAnnotations = "io.kubernetes.cri.pod-annotations"

// Capabilities are those kinn supplies; libcni hands each only to plugins
// that declare it. A plugin declaring another one gets nothing for it,
// which up reports (UnsuppliedCapabilities).
var Capabilities = []string{"ips", "ipRanges", "portMappings", "bandwidth", "dns", "mac", CapPodAnnotations}

// Bandwidth is the `bandwidth` capability: rates in bits per second and
// bursts in bits, as the reference bandwidth plugin reads them.
type Bandwidth struct {
	IngressRate  uint64 `json:"ingressRate,omitempty"`
	IngressBurst uint64 `json:"ingressBurst,omitempty"`
	EgressRate   uint64 `json:"egressRate,omitempty"`
	EgressBurst  uint64 `json:"egressBurst,omitempty"`
}

// Bounds the kubelet puts on a bandwidth annotation
// (pkg/util/bandwidth: "unreasonably small/large").
var (
	minBandwidth = resource.MustParse("1k")
	maxBandwidth = resource.MustParse("1P")
)

// podBandwidth reads the traffic-shaping annotations as containerd's
// toCNIBandWidth does: the quantity's value as bits per second, and a
// burst of math.MaxUint32 bits, containerd's "no limit" (so the first
// ~256 MiB pass unshaped: kubernetes/kubernetes#90838). nil when the pod
// has neither annotation.
func podBandwidth(ann map[string]string) (*Bandwidth, error) {
	var bw Bandwidth
	for _, a := range []struct {
		key         string
		rate, burst *uint64
	}{
		{AnnotationIngressBandwidth, &bw.IngressRate, &bw.IngressBurst},
		{AnnotationEgressBandwidth, &bw.EgressRate, &bw.EgressBurst},
	} {
		v, ok := ann[a.key]
		if !ok {
			continue
		}
		q, err := resource.ParseQuantity(v)
		if err != nil {
			return nil, fmt.Errorf("annotation %s: %q is not a quantity (say 10M for 10 Mbit/s): %w", a.key, v, err)
		}
		if q.Value() < minBandwidth.Value() || q.Value() > maxBandwidth.Value() {
			return nil, fmt.Errorf("annotation %s: %s is outside what the kubelet accepts (1k to 1P bits per second)", a.key, v)
		}
		*a.rate, *a.burst = uint64(q.Value()), math.MaxUint32
	}
	if bw == (Bandwidth{}) {
		return nil, nil
	}
	return &bw, nil
}

// podMAC is the `mac` capability from kinn.dev/mac: "" when unset.
func podMAC(ann map[string]string) (string, error) {
	v, ok := ann[AnnotationMAC]
	if !ok {
		return "", nil
	}
	mac, err := net.ParseMAC(v)
	if err != nil || len(mac) != 6 {
		return "", fmt.Errorf("annotation %s: %q is not an Ethernet address (say 02:00:00:00:00:01)", AnnotationMAC, v)
	}
	if mac[0]&1 != 0 {
		return "", fmt.Errorf("annotation %s: %s is a multicast address: an interface needs a unicast one", AnnotationMAC, v)
	}
	return mac.String(), nil
}

// runtimeArgs are the CNI_ARGS kinn sets itself, which kinn.dev/cni-args
// may not override.
var runtimeArgs = []string{"IgnoreUnknown", "K8S_POD_NAMESPACE", "K8S_POD_NAME", "K8S_POD_INFRA_CONTAINER_ID", "K8S_POD_UID"}

var argKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// extraArgs reads kinn.dev/cni-args, "K=V;K2=V2", in its order.
func extraArgs(ann map[string]string) ([][2]string, error) {
	v, ok := ann[AnnotationCNIArgs]
	if !ok {
		return nil, nil
	}
	var out [][2]string
	var errs []error
	for _, kv := range strings.Split(v, ";") {
		if kv = strings.TrimSpace(kv); kv == "" {
			continue
		}
		k, val, ok := strings.Cut(kv, "=")
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%q has no =", kv))
		case !argKey.MatchString(k):
			errs = append(errs, fmt.Errorf("%q is not a key (letters, digits, _)", k))
		case slices.Contains(runtimeArgs, k):
			errs = append(errs, fmt.Errorf("%s is set by the runtime", k))
		case strings.Contains(val, "="):
			errs = append(errs, fmt.Errorf("the value of %s holds =, which CNI_ARGS cannot carry", k))
		case slices.ContainsFunc(out, func(a [2]string) bool { return a[0] == k }):
			errs = append(errs, fmt.Errorf("%s is given twice", k))
		default:
			out = append(out, [2]string{k, val})
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("annotation %s (\"K=V;K2=V2\"): %w", AnnotationCNIArgs, err)
	}
	return out, nil
}

// CheckPod finds what in the pod's annotations the runtime cannot hand the
// plugins, all of it at once, so that up reports it before anything.
func CheckPod(p plan.Pod) error {
	_, err := podArgs(p)
	return err
}

// podExtras are the pod's capabilities and CNI_ARGS beyond its address.
type podExtras struct {
	caps map[string]any
	args [][2]string
}

func podArgs(p plan.Pod) (podExtras, error) {
	x := podExtras{caps: map[string]any{}}
	var errs []error
	if bw, err := podBandwidth(p.Annotations); err != nil {
		errs = append(errs, err)
	} else if bw != nil {
		x.caps["bandwidth"] = bw
	}
	if mac, err := podMAC(p.Annotations); err != nil {
		errs = append(errs, err)
	} else if mac != "" {
		x.caps["mac"] = mac
	}
	args, err := extraArgs(p.Annotations)
	errs = append(errs, err)
	x.args = args
	// containerd passes the annotations always, an empty map included.
	ann := map[string]string{}
	for k, v := range p.Annotations {
		ann[k] = v
	}
	x.caps[CapPodAnnotations] = ann
	if p.DNS != nil {
		x.caps["dns"] = p.DNS
	}
	if err := errors.Join(errs...); err != nil {
		return x, fmt.Errorf("pod %s: %w", p.Key(), err)
	}
	return x, nil
}

// Unsupplied warns of each capability a plugin of the list declares that
// kinn does not supply: libcni hands that plugin nothing for it, which a
// plugin author should hear rather than find out.
func (c *Chain) Unsupplied(n plan.Node) ([]string, error) {
	b, err := c.Render(n, "/nonexistent")
	if err != nil {
		return nil, err
	}
	list, err := libcni.NetworkConfFromBytes(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Where, err)
	}
	var out []string
	for _, p := range list.Plugins {
		var names []string
		for name, on := range p.Network.Capabilities {
			if on && !slices.Contains(Capabilities, name) {
				names = append(names, name)
			}
		}
		sort.Strings(names)
		for _, name := range names {
			out = append(out, fmt.Sprintf("%s: plugin %q declares the capability %q, which kinn does not supply (it supplies %s): the plugin gets nothing for it",
				c.Where, p.Network.Type, name, strings.Join(Capabilities, ", ")))
		}
	}
	return out, nil
}
