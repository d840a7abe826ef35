package cni

// Running a plugin binary. libcni's invoke.RawExec is what containerd uses,
// and it has three gaps for a test bed: it keeps a plugin's stderr only when
// the call fails (and then folds it into one quoted string), it reports no
// exit status, and a plugin that hangs is killed alone when the context
// ends, so whatever it started (a delegated IPAM plugin, a helper) lives on.
// kinn forks the binary itself: from a thread inside the node's namespace
// (exactly where RawExec would fork it from), in a process group of its own
// that a timeout kills whole, with stdout and stderr kept apart. What the
// runtime is then told is RawExec's: stdout on success, the error JSON from
// stdout on failure.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/containernetworking/cni/pkg/types"
)

// errCallTimeout is the cause of a context whose call ran out of time, as
// against one whose caller gave up (Ctrl-C).
var errCallTimeout = errors.New("CNI call timeout")

// execBinary runs the plugin at path with stdin and environ, started by
// start (in the node's namespace and view: NodeView.Start), and waits at
// most timeout for it.
func execBinary(ctx context.Context, start func(*exec.Cmd) error, path string, stdin []byte, environ []string, timeout time.Duration) *BinaryRun {
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, errCallTimeout)
	defer cancel()
	r := &BinaryRun{}
	var stdout, stderr bytes.Buffer
	var cmd *exec.Cmd
	// A plugin being rebuilt (the developer's loop) is briefly busy;
	// RawExec retries that the same way.
	for try := 0; ; try++ {
		stdout.Reset()
		stderr.Reset()
		cmd = pluginCmd(ctx, path, stdin, environ, &stdout, &stderr)
		err := start(cmd)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.ETXTBSY) || try == 5 || sleepCtx(ctx, time.Second) != nil {
			r.Err = fmt.Errorf("start %s: %w", path, err)
			return r
		}
	}
	err := cmd.Wait()
	r.Stdout, r.Stderr = stdout.Bytes(), stderr.Bytes()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok {
		r.Exit = ws.ExitStatus()
		if ws.Signaled() {
			r.Signal = ws.Signal().String()
		}
	}
	// A plugin that exited as the time ran out still answered. ErrWaitDelay
	// with a status: it exited, something it left held its output open.
	switch {
	case err == nil:
	case context.Cause(ctx) == errCallTimeout:
		r.TimedOut = true
	case ctx.Err() != nil:
		r.Err = fmt.Errorf("%s: %w", path, context.Cause(ctx))
	case cmd.ProcessState == nil:
		r.Err = err
	}
	return r
}

// pluginCmd is the plugin's command: its own process group, killed whole
// when ctx ends. WaitDelay stops a descendant that keeps the output pipes
// open (a daemon started without closing them) from holding the call.
func pluginCmd(ctx context.Context, path string, stdin []byte, environ []string, stdout, stderr *bytes.Buffer) *exec.Cmd {
	cmd := exec.CommandContext(ctx, path)
	cmd.Env = environ
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	return cmd
}

// BinaryRun is how one run of a plugin binary went: what execBinary gives
// the call log, and RunBinary the conformance runner.
type BinaryRun struct {
	Stdout, Stderr []byte
	Exit           int    // the exit status; -1 when a signal ended the plugin
	Signal         string // the signal that ended it
	TimedOut       bool
	Err            error // it could not be started, or the caller gave up
}

// RunBinary runs the plugin at path in view, as kinn runs every plugin
// binary (own process group, killed whole after timeout), and returns how
// it went and the error a runtime is told (nil when it succeeded).
func RunBinary(ctx context.Context, view NodeView, path string, stdin []byte, environ []string, timeout time.Duration) (BinaryRun, error) {
	r := execBinary(ctx, view.Start, path, stdin, environ, timeout)
	return *r, r.error(filepath.Base(path), timeout)
}

// startHere starts cmd where kinn runs: for the VERSION check, which needs
// no node.
func startHere(cmd *exec.Cmd) error { return cmd.Start() }

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// failed says whether the plugin failed, in any way.
func (r *BinaryRun) failed() bool { return r.Err != nil || r.TimedOut || r.Exit != 0 || r.Signal != "" }

// status is "exit status 2" or "killed by signal killed".
func (r *BinaryRun) status() string {
	if r.Signal != "" {
		return "killed by signal " + r.Signal
	}
	return fmt.Sprintf("exit status %d", r.Exit)
}

// pluginError is the plugin's own error, the CNI error JSON it printed on
// stdout when it failed; nil when it printed none.
func (r *BinaryRun) pluginError() *types.Error {
	if !r.failed() || r.Err != nil || r.TimedOut || len(bytes.TrimSpace(r.Stdout)) == 0 {
		return nil
	}
	var te types.Error
	if json.Unmarshal(r.Stdout, &te) != nil || (te.Code == 0 && te.Msg == "") {
		return nil
	}
	return &te
}

// error is what the runtime is told: the plugin's own error when it gave
// one, as RawExec passes it on, else what went wrong in words that say
// where to look (its stderr is in the call log).
func (r *BinaryRun) error(plugin string, timeout time.Duration) error {
	switch {
	case !r.failed():
		return nil
	case r.Err != nil:
		return fmt.Errorf("plugin %s: %w", plugin, r.Err)
	case r.TimedOut:
		return fmt.Errorf("plugin %s did not answer within %s (cni.timeout): killed it and its process group", plugin, timeout)
	}
	if te := r.pluginError(); te != nil {
		return te
	}
	msg := fmt.Sprintf("plugin %s failed (%s) with no CNI error on stdout", plugin, r.status())
	if len(bytes.TrimSpace(r.Stdout)) > 0 {
		msg = fmt.Sprintf("plugin %s failed (%s) and its stdout is not a CNI error: %s", plugin, r.status(), firstLine(r.Stdout))
	}
	if line := firstLine(r.Stderr); line != "" {
		msg += "; stderr: " + line
	}
	return &types.Error{Code: types.ErrInternal, Msg: msg}
}

// firstLine is b's first non-empty line, trimmed, at most 200 bytes.
func firstLine(b []byte) string {
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			if len(l) > 200 {
				l = l[:200] + "…"
			}
			return l
		}
	}
	return ""
}
