package cni

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"kinn.dev/kinn/lab/plan"
	"kinn.dev/kinn/topology"
)

func TestRuntimeConfAsContainerd(t *testing.T) {
	t.Parallel()
	p := plan.Pod{Namespace: "ns", Name: "p", ContainerID: "c1", Netns: "x",
		Annotations: map[string]string{
			AnnotationEgressBandwidth: "10M", AnnotationIngressBandwidth: "1Gi",
			AnnotationMAC: "02:42:0A:00:00:07", AnnotationCNIArgs: "A=1; B=two;",
		},
		DNS: &plan.DNS{Servers: []string{"10.96.0.10"}, Searches: []string{"ns.svc.cluster.local"}, Options: []string{"ndots:5"}},
	}
	rc, err := RuntimeConf(node("10.244.1.0/24"), p)
	if err != nil {
		t.Fatal(err)
	}
	want := Bandwidth{EgressRate: 10_000_000, EgressBurst: math.MaxUint32, IngressRate: 1 << 30, IngressBurst: math.MaxUint32}
	if got := *rc.CapabilityArgs["bandwidth"].(*Bandwidth); got != want {
		t.Errorf("bandwidth = %+v, want %+v", got, want)
	}
	if got := rc.CapabilityArgs["mac"]; got != "02:42:0a:00:00:07" {
		t.Errorf("mac = %v", got)
	}
	if got, _ := json.Marshal(rc.CapabilityArgs["dns"]); string(got) != `{"servers":["10.96.0.10"],"searches":["ns.svc.cluster.local"],"options":["ndots:5"]}` {
		t.Errorf("dns = %s", got)
	}
	if ann := rc.CapabilityArgs[CapPodAnnotations].(map[string]string); ann[AnnotationMAC] != "02:42:0A:00:00:07" {
		t.Errorf("pod annotations = %v", ann)
	}
	args := rc.Args[len(rc.Args)-2:]
	if args[0] != [2]string{"A", "1"} || args[1] != [2]string{"B", "two"} {
		t.Errorf("extra CNI_ARGS = %v", rc.Args)
	}
	// A pod without annotations: no bandwidth or mac, the annotations
	// capability still there (containerd always passes it), empty.
	rc, err = RuntimeConf(node("10.244.1.0/24"), plan.Pod{Namespace: "ns", Name: "q"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"bandwidth", "mac", "dns"} {
		if _, ok := rc.CapabilityArgs[c]; ok {
			t.Errorf("capability %s passed for a pod without it", c)
		}
	}
	if ann, ok := rc.CapabilityArgs[CapPodAnnotations].(map[string]string); !ok || len(ann) != 0 {
		t.Errorf("pod annotations = %#v, want an empty map", rc.CapabilityArgs[CapPodAnnotations])
	}
}

func TestCheckPodRefusesBadAnnotations(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ key, value, want string }{
		{AnnotationEgressBandwidth, "fast", "is not a quantity"},
		{AnnotationIngressBandwidth, "100", "outside what the kubelet accepts"},
		{AnnotationIngressBandwidth, "2P", "outside what the kubelet accepts"},
		{AnnotationMAC, "02:42:0a:00:07", "not an Ethernet address"},
		{AnnotationMAC, "01:00:5e:00:00:01", "multicast"},
		{AnnotationCNIArgs, "K8S_POD_UID=x", "K8S_POD_UID is set by the runtime"},
		{AnnotationCNIArgs, "A=1;A=2", "A is given twice"},
		{AnnotationCNIArgs, "A", `"A" has no =`},
		{AnnotationCNIArgs, "A-B=1", "is not a key"},
		{AnnotationCNIArgs, "A=b=c", "holds ="},
	} {
		err := CheckPod(plan.Pod{Namespace: "ns", Name: "p", Annotations: map[string]string{tc.key: tc.value}})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "pod ns/p") {
			t.Errorf("%s: %q: got %v, want an error naming the pod and %q", tc.key, tc.value, err, tc.want)
		}
	}
}

func TestUnsuppliedCapabilities(t *testing.T) {
	t.Parallel()
	ch, err := LoadChain(&topology.CNIConfig{ConfList: `{"cniVersion": "1.1.0", "name": "n", "plugins": [
	  {"type": "bridge", "capabilities": {"ips": true, "mac": true}},
	  {"type": "tuning", "capabilities": {"infinibandGUID": true, "deviceID": true, "aliases": false}}]}`})
	if err != nil {
		t.Fatal(err)
	}
	ws, err := ch.Unsupplied(node("10.244.0.0/24"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 2 || !strings.Contains(ws[0], `plugin "tuning" declares the capability "deviceID"`) || !strings.Contains(ws[1], `"infinibandGUID"`) {
		t.Errorf("warnings:\n%s", strings.Join(ws, "\n"))
	}
}
