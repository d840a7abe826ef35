package conformance

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/version"

	"kinn.dev/kinn/lab/cni"
)

// call is one plugin execution as the plugin saw and answered it: the
// judges read stdout raw, before libcni turned it into a Go value.
type call struct {
	Plugin  string // the binary's name
	Command string // CNI_COMMAND
	Stdin   []byte
	Stdout  []byte
	Stderr  []byte
	Exit    int  // -1 when the plugin did not exit by itself
	Timeout bool // killed when the per-call timeout expired
}

// recorder is libcni's invoke.Exec for the run: every plugin runs as kinn
// runs plugin binaries in a lab (cni.RunBinary: forked inside the
// throwaway node's namespace and its view of /var/lib/cni and
// /run/flannel, in a process group of its own killed when the call's
// timeout expires), and every call is kept for the judges.
type recorder struct {
	view    cni.NodeView
	timeout time.Duration
	mu      sync.Mutex
	calls   []call
	version.PluginDecoder
}

var _ invoke.Exec = (*recorder)(nil)

func (r *recorder) FindInPath(plugin string, paths []string) (string, error) {
	return invoke.FindInPath(plugin, paths)
}

// ExecPlugin runs the plugin and answers libcni as a runtime's exec would.
func (r *recorder) ExecPlugin(ctx context.Context, path string, stdin []byte, environ []string) ([]byte, error) {
	c, err := r.run(ctx, path, stdin, environ)
	if err != nil {
		return nil, err
	}
	return c.Stdout, nil
}

// run executes one call, records it, and returns it with the error a
// runtime is told.
func (r *recorder) run(ctx context.Context, path string, stdin []byte, environ []string) (call, error) {
	b, err := cni.RunBinary(ctx, r.view, path, stdin, environ, r.timeout)
	c := call{Plugin: filepath.Base(path), Command: env(environ, "CNI_COMMAND"), Stdin: stdin,
		Stdout: b.Stdout, Stderr: b.Stderr, Exit: b.Exit, Timeout: b.TimedOut}
	if b.Err != nil || b.TimedOut {
		c.Exit = -1 // it did not exit by itself
	}
	if b.Err != nil {
		c.Stderr = append(c.Stderr, []byte(b.Err.Error())...)
	}
	r.mu.Lock()
	r.calls = append(r.calls, c)
	r.mu.Unlock()
	return c, err
}

// since returns the calls recorded from mark on, and the new mark.
func (r *recorder) since(mark int) ([]call, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]call(nil), r.calls[mark:]...), len(r.calls)
}

func (r *recorder) mark() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

func env(environ []string, key string) string {
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, key+"="); ok {
			return v
		}
	}
	return ""
}
