package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/version"

	"kinn.dev/kinn/lab/kernel"
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

// recorder is libcni's invoke.Exec for the run: every plugin is forked
// from a thread inside the throwaway node namespace (its "host"), in a
// process group of its own that is killed when the call's timeout expires,
// and every call is kept for the judges.
type recorder struct {
	netns   string
	timeout time.Duration
	mu      sync.Mutex
	calls   []call
	version.PluginDecoder
}

var _ invoke.Exec = (*recorder)(nil)

func (r *recorder) FindInPath(plugin string, paths []string) (string, error) {
	return invoke.FindInPath(plugin, paths)
}

// ExecPlugin runs the plugin and answers libcni as its RawExec would.
func (r *recorder) ExecPlugin(ctx context.Context, path string, stdin []byte, environ []string) ([]byte, error) {
	c := r.run(ctx, path, stdin, environ)
	if c.Timeout {
		return nil, fmt.Errorf("%s %s timed out after %s and was killed", c.Plugin, c.Command, r.timeout)
	}
	if c.Exit == 0 {
		return c.Stdout, nil
	}
	return nil, asError(c)
}

// run executes one call and records it.
func (r *recorder) run(ctx context.Context, path string, stdin []byte, environ []string) call {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, path)
	cmd.Env, cmd.Stdin, cmd.Stdout, cmd.Stderr = environ, bytes.NewReader(stdin), &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// The whole group: a plugin that forked a delegate (IPAM) must not
	// leave it running.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	c := call{Plugin: filepath.Base(path), Command: env(environ, "CNI_COMMAND"), Stdin: stdin, Exit: -1}
	err := kernel.StartIn(r.netns, cmd)
	if err == nil {
		err = cmd.Wait()
	}
	c.Stdout, c.Stderr = stdout.Bytes(), stderr.Bytes()
	var ee *exec.ExitError
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		c.Timeout = true
	case err == nil:
		c.Exit = 0
	case errors.As(err, &ee) && ee.Exited():
		c.Exit = ee.ExitCode()
	default:
		c.Stderr = append(c.Stderr, []byte(err.Error())...)
	}
	r.mu.Lock()
	r.calls = append(r.calls, c)
	r.mu.Unlock()
	return c
}

// asError is the error libcni's RawExec makes of a failed call.
func asError(c call) error {
	e := &types.Error{}
	switch {
	case len(c.Stdout) == 0 && len(c.Stderr) == 0:
		e.Msg = fmt.Sprintf("netplugin failed with no error message: exit status %d", c.Exit)
	case len(c.Stdout) == 0:
		e.Msg = fmt.Sprintf("netplugin failed: %q: exit status %d", strings.TrimSpace(string(c.Stderr)), c.Exit)
	default:
		if err := json.Unmarshal(c.Stdout, e); err != nil {
			e.Msg = fmt.Sprintf("netplugin failed but error parsing its diagnostic message %q: %v", c.Stdout, err)
		}
	}
	return e
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
