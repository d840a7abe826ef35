package workload

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Protocols as Kubernetes spells them in containerPorts.
const (
	TCP  = string(corev1.ProtocolTCP)
	UDP  = string(corev1.ProtocolUDP)
	SCTP = string(corev1.ProtocolSCTP)
)

// agnhost netexec's defaults, used when a container runs netexec without
// saying otherwise (its --sctp-port defaults to off).
const (
	netexecHTTPPort = 8080
	netexecUDPPort  = 8081
)

// Port is one port a pod serves. Port 0 asks the kernel for a free one
// (tests); Server.Ports reports what was bound.
type Port struct {
	Port     uint16
	Protocol string // TCP, UDP or SCTP
}

func (p Port) String() string { return strconv.Itoa(int(p.Port)) + "/" + p.Protocol }

// PortsOf lists the ports a pod's containers serve: every containerPort
// (protocol defaulting to TCP, as the API server would) and, for containers
// running agnhost netexec, the ports its flags name even when the pod does
// not list them — the real image would listen there too. Sorted, no
// duplicates.
func PortsOf(pod *corev1.Pod) []Port {
	var out []Port
	for _, c := range pod.Spec.Containers {
		for _, cp := range c.Ports {
			proto := string(cp.Protocol)
			if proto == "" {
				proto = TCP
			}
			if cp.ContainerPort > 0 && cp.ContainerPort < 1<<16 {
				out = append(out, Port{uint16(cp.ContainerPort), proto})
			}
		}
		out = append(out, netexecPorts(append(slices.Clone(c.Command), c.Args...))...)
	}
	slices.SortFunc(out, func(a, b Port) int {
		return cmp.Or(cmp.Compare(a.Protocol, b.Protocol), cmp.Compare(a.Port, b.Port))
	})
	return slices.Compact(out)
}

// netexecPorts reads agnhost netexec's port flags from a container's command
// line (`[/agnhost] netexec --http-port=8080 --udp-port 8081`); it returns
// nothing when the container does not run netexec. A negative or zero
// value turns a listener off, as in agnhost.
func netexecPorts(argv []string) []Port {
	i := slices.Index(argv, "netexec")
	if i < 0 {
		return nil
	}
	ports := map[string]int{"http-port": netexecHTTPPort, "udp-port": netexecUDPPort, "sctp-port": -1}
	protos := map[string]string{"http-port": TCP, "udp-port": UDP, "sctp-port": SCTP}
	args := argv[i+1:]
	for j := 0; j < len(args); j++ {
		name, val, hasVal := strings.Cut(strings.TrimLeft(args[j], "-"), "=")
		if _, known := ports[name]; !known || !strings.HasPrefix(args[j], "-") {
			continue
		}
		if !hasVal && j+1 < len(args) {
			j++
			val = args[j]
		}
		if n, err := strconv.Atoi(val); err == nil {
			ports[name] = n
		}
	}
	var out []Port
	for name, n := range ports {
		if n > 0 && n < 1<<16 {
			out = append(out, Port{uint16(n), protos[name]})
		}
	}
	return out
}
