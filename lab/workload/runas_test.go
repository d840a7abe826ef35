package workload

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestRunAs(t *testing.T) {
	t.Parallel()
	id := func(v int64) *int64 { return &v }
	yes := true
	pod := func(psc *corev1.PodSecurityContext, csc *corev1.SecurityContext) *corev1.Pod {
		return &corev1.Pod{Spec: corev1.PodSpec{SecurityContext: psc, Containers: []corev1.Container{{Name: "c", SecurityContext: csc}}}}
	}
	tests := []struct {
		name       string
		pod        *corev1.Pod
		uid, gid   int64
		caps       []string
		privileged bool
	}{
		{"nothing said: nobody", pod(nil, nil), 65534, 65534, nil, false},
		{"no containers", &corev1.Pod{}, 65534, 65534, nil, false},
		{"pod's user, nogroup", pod(&corev1.PodSecurityContext{RunAsUser: id(1000)}, nil), 1000, 65534, nil, false},
		{"root's group is root", pod(&corev1.PodSecurityContext{RunAsUser: id(0)}, nil), 0, 0, nil, false},
		{"container over pod", pod(&corev1.PodSecurityContext{RunAsUser: id(1000), RunAsGroup: id(3000)},
			&corev1.SecurityContext{RunAsUser: id(2000)}), 2000, 3000, nil, false},
		{"container's group", pod(nil, &corev1.SecurityContext{RunAsGroup: id(5)}), 65534, 5, nil, false},
		{"capabilities", pod(nil, &corev1.SecurityContext{Capabilities: &corev1.Capabilities{
			Add: []corev1.Capability{"NET_BIND_SERVICE", "CAP_NET_RAW"}, Drop: []corev1.Capability{"ALL"}}}),
			65534, 65534, []string{"NET_BIND_SERVICE", "CAP_NET_RAW"}, false},
		{"privileged", pod(nil, &corev1.SecurityContext{Privileged: &yes}), 65534, 65534, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if uid, gid := RunAs(tt.pod); uid != tt.uid || gid != tt.gid {
				t.Errorf("RunAs = %d:%d, want %d:%d", uid, gid, tt.uid, tt.gid)
			}
			if caps, priv := Capabilities(tt.pod); !slices.Equal(caps, tt.caps) || priv != tt.privileged {
				t.Errorf("Capabilities = %v, %v; want %v, %v", caps, priv, tt.caps, tt.privileged)
			}
		})
	}
}
