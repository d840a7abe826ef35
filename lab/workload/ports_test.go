package workload

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestPortsOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		containers []corev1.Container
		want       []Port
	}{
		{"none", []corev1.Container{{Name: "c"}}, nil},
		{"listed, protocol defaults to TCP",
			[]corev1.Container{{Ports: []corev1.ContainerPort{{ContainerPort: 80}, {ContainerPort: 53, Protocol: "UDP"}, {ContainerPort: 53, Protocol: "TCP"}, {ContainerPort: 9, Protocol: "SCTP"}}}},
			[]Port{{9, SCTP}, {53, TCP}, {80, TCP}, {53, UDP}}},
		{"duplicates across containers",
			[]corev1.Container{{Ports: []corev1.ContainerPort{{ContainerPort: 80}}}, {Ports: []corev1.ContainerPort{{ContainerPort: 80, Protocol: "TCP"}}}},
			[]Port{{80, TCP}}},
		{"netexec flags with =",
			[]corev1.Container{{Args: []string{"netexec", "--http-port=8083", "--udp-port=8082"}, Ports: []corev1.ContainerPort{{ContainerPort: 8083}}}},
			[]Port{{8083, TCP}, {8082, UDP}}},
		{"netexec flags apart, in command",
			[]corev1.Container{{Command: []string{"/agnhost", "netexec"}, Args: []string{"--http-port", "9000", "-udp-port", "-1", "--sctp-port=9002"}}},
			[]Port{{9002, SCTP}, {9000, TCP}}},
		{"netexec defaults",
			[]corev1.Container{{Args: []string{"netexec"}}},
			[]Port{{8080, TCP}, {8081, UDP}}},
		{"not netexec",
			[]corev1.Container{{Args: []string{"serve-hostname", "--http-port=1"}}},
			nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := PortsOf(&corev1.Pod{Spec: corev1.PodSpec{Containers: tt.containers}})
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
