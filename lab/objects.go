package lab

import (
	"cmp"
	"net/netip"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"kinn.dev/kinn/lab/cni"
	"kinn.dev/kinn/lab/plan"
	"kinn.dev/kinn/lab/service"
	"kinn.dev/kinn/topology"
)

// Nodes returns the lab's nodes as v1 Nodes, with their pod CIDR, internal
// address and readiness (see nodeReady).
func (s *State) Nodes() []corev1.Node {
	var out []corev1.Node
	for i, n := range s.Plan.Nodes {
		tn := s.Topology.Nodes[i]
		out = append(out, corev1.Node{
			TypeMeta:   metav1.TypeMeta{Kind: "Node", APIVersion: "v1"},
			ObjectMeta: metav1.ObjectMeta{Name: n.Name, Labels: tn.Labels, Annotations: map[string]string{"kinn.dev/netns": n.Netns}},
			Spec:       corev1.NodeSpec{PodCIDR: n.PodCIDR.String(), PodCIDRs: []string{n.PodCIDR.String()}, Taints: taints(tn)},
			Status: corev1.NodeStatus{
				Addresses: []corev1.NodeAddress{
					{Type: corev1.NodeInternalIP, Address: n.Underlay.Addr().String()},
					{Type: corev1.NodeHostName, Address: n.Name},
				},
				Conditions: []corev1.NodeCondition{nodeReady(n)},
			},
		})
	}
	return out
}

// nodeReady is the node's Ready condition in the kubelet's words: not ready
// while its namespace is missing, or while its network is not (the plugin
// chain's STATUS failed).
func nodeReady(n plan.Node) corev1.NodeCondition {
	c := corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionFalse, Reason: "KubeletNotReady"}
	switch {
	case !Live(n.Netns):
		c.Message = "the node's network namespace " + n.Netns + " does not exist: `kinn up` makes it again"
	case n.NetworkNotReady != "":
		c.Message = n.NetworkNotReady
	default:
		c.Status, c.Reason, c.Message = corev1.ConditionTrue, "KubeletReady", "kubelet is posting ready status"
	}
	return c
}

func taints(n topology.Node) []corev1.Taint {
	if n.Role != topology.RoleControlPlane {
		return nil
	}
	return []corev1.Taint{{Key: "node-role.kubernetes.io/control-plane", Effect: corev1.TaintEffectNoSchedule}}
}

// Pods returns the lab's pods as v1 Pods with their addresses filled in;
// a pod whose namespace is missing shows as Pending.
func (s *State) Pods(r Readiness) []corev1.Pod { return s.PodsLive(readyOf(r)) }

// PodsLive is Pods with the lab process's detail: each running pod's
// conditions and container statuses say why it is not ready, as the
// kubelet's would (see podConditions).
func (s *State) PodsLive(l LiveStatus) []corev1.Pod {
	byKey := map[string]plan.Pod{}
	for _, p := range s.Plan.Pods {
		byKey[p.Key()] = p
	}
	hostIP := map[string]string{}
	for _, n := range s.Plan.Nodes {
		hostIP[n.Name] = n.Underlay.Addr().String()
	}
	netName := sync.OnceValue(s.networkName)
	var out []corev1.Pod
	for _, tp := range s.Topology.Pods {
		pp, ok := byKey[tp.Key()]
		if !ok {
			continue
		}
		pod := tp.Pod.DeepCopy()
		pod.TypeMeta = metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"}
		pod.UID = types.UID(cni.PodUID(pp))
		if pod.Annotations == nil {
			pod.Annotations = map[string]string{}
		}
		if s.live(pp.Netns) {
			// Only a sandbox that exists has a namespace to show.
			pod.Annotations["kinn.dev/netns"] = pp.Netns
			if hi := pp.HostInterface(); hi != "" {
				pod.Annotations[HostInterfaceAnnotation] = hi
			}
		}
		if st := networkStatus(pp, netName); st != "" && s.live(pp.Netns) {
			pod.Annotations[topology.NetworkStatusAnnotation] = st
		}
		pod.Status = corev1.PodStatus{Phase: corev1.PodPending, HostIP: hostIP[pp.Node]}
		pod.Status.HostIPs = []corev1.HostIP{{IP: pod.Status.HostIP}}
		if pp.Error != "" {
			// The kubelet's event for a sandbox whose network failed.
			pod.Status.Reason, pod.Status.Message = ReasonCNIFailed, pp.Error
		}
		if s.live(pp.Netns) && pp.IP.IsValid() {
			ip := pp.IP.Addr().String()
			pod.Status.Phase = corev1.PodRunning
			pod.Status.PodIP, pod.Status.PodIPs = ip, []corev1.PodIP{{IP: ip}}
			live := l(tp.Key())
			podConditions(pod, live)
			if live.Terminating {
				// When exactly is the lab process's business; that it is
				// terminating is what kubectl shows.
				now := metav1.Now()
				pod.DeletionTimestamp = &now
			}
		}
		out = append(out, *pod)
	}
	return out
}

// HostInterfaceAnnotation names a running pod's link in its node's
// namespace (the host side of its veth), so that nobody has to work it out
// from iflink and delete the wrong device. A chain whose ADD result names
// no host interface (macvlan, ipvlan) leaves it out.
const HostInterfaceAnnotation = "kinn.dev/host-interface"

// live says whether a namespace exists: Live, or the test's stand-in.
func (s *State) live(netns string) bool {
	if s.netnsExists != nil {
		return s.netnsExists(netns)
	}
	return Live(netns)
}

// ReasonCNIFailed is a pod's status reason when its CNI ADD failed.
const ReasonCNIFailed = "FailedCreatePodSandBox"

// Readiness says whether a pod is ready and whether it is terminating; the
// lab process knows (probes, `kinn ready`, `kinn delete pod`).
type Readiness func(key string) (ready, terminating bool)

// PodStates is the lab's pods as the endpoint computation takes them.
func (s *State) PodStates(r Readiness) []service.PodState { return s.podStates(r, false) }

// IntendedPodStates is PodStates as it would be if every pod that should
// be running did: what a Service is meant to have, and so what `kinn
// check` expects of it, whatever failed.
func (s *State) IntendedPodStates(r Readiness) []service.PodState { return s.podStates(r, true) }

func (s *State) podStates(r Readiness, intended bool) []service.PodState {
	byKey := map[string]plan.Pod{}
	for _, p := range s.Plan.Pods {
		byKey[p.Key()] = p
	}
	var out []service.PodState
	for _, tp := range s.Topology.Pods {
		pp, ok := byKey[tp.Key()]
		if !ok {
			continue
		}
		ready, term := r(tp.Key())
		ip := pp.IP.Addr()
		switch {
		case pp.Attached():
		case intended:
			// As if it ran: ready, at the address kinn would give it (a
			// stand-in; only the count and place of endpoints matter).
			ready, ip = true, cmp.Or(pp.Want.Addr(), netip.AddrFrom4([4]byte{0, 0, 0, 1}))
		default:
			ready = false
		}
		out = append(out, service.PodState{Pod: tp.Pod, IP: ip, Node: pp.Node, Ready: ready, Terminating: term})
	}
	return append(out, s.apiServers()...)
}

// apiServers stand for kubeadm's kube-apiserver static pods, one per
// control plane on the node's own address (host network): the endpoints
// of default/kubernetes. The lab process answers on their port.
func (s *State) apiServers() []service.PodState {
	var out []service.PodState
	for i, n := range s.Plan.Nodes {
		if s.Topology.Nodes[i].Role != topology.RoleControlPlane {
			continue
		}
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "kube-apiserver-" + n.Name, Namespace: metav1.NamespaceSystem, Labels: service.APIServerLabels},
			Spec: corev1.PodSpec{NodeName: n.Name, HostNetwork: true, Containers: []corev1.Container{{
				Name: "kube-apiserver", Ports: []corev1.ContainerPort{{Name: "https", ContainerPort: topology.APIServerPort, Protocol: corev1.ProtocolTCP}},
			}}},
		}
		out = append(out, service.PodState{Pod: pod, IP: n.Underlay.Addr(), Node: n.Name, Ready: Live(n.Netns)})
	}
	return out
}
