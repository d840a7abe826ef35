package tui

import (
	"strings"
	"testing"
)

// TestPodNetworksColumn: the pod rows get a NETWORKS column only when a
// pod has extra networks.
func TestPodNetworksColumn(t *testing.T) {
	t.Parallel()
	m, _ := newTestModel(t, newFake(), 200, 60)
	if strings.Contains(screenText(m), "NETWORKS") {
		t.Fatalf("a NETWORKS column without extra networks:\n%s", screenText(m))
	}
	f := newFake()
	f.snap.Pods[0].Networks = "net1=192.168.50.2"
	m, _ = newTestModel(t, f, 200, 60)
	if s := screenText(m); !strings.Contains(s, "NETWORKS") || !strings.Contains(s, "net1=192.168.50.2") {
		t.Errorf("the client pod's second network is not shown:\n%s", s)
	}
}
