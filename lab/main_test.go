package lab

import (
	"os"
	"testing"

	"kinn.dev/kinn/lab/cni/cnitest"
)

// TestMain removes the reference plugins the CNI benchmarks build, once
// all of them ran (each benchmark shares the one build).
func TestMain(m *testing.M) {
	code := m.Run()
	cnitest.Cleanup()
	os.Exit(code)
}
