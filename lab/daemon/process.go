// Package daemon is the lab process: one long-running process per lab,
// started in the background by `kinn up` and stopped by `kinn down`. It
// plays kubelet (the pods' servers and readiness probes) and kube-proxy (the
// service proxy in every node) for its lab, and answers the CLI on a unix
// socket in the lab's runtime directory. Its command line carries the lab's
// name, so `kinn down` finds it even when its pid file is gone.
package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"kinn.dev/kinn/lab"
	"kinn.dev/kinn/topology"
)

// Files in the lab's runtime directory.
const (
	fileSocket = "kinn.sock"
	filePID    = "lab.pid"
	fileLog    = lab.FileLabLog
)

// Command is the hidden CLI verb that runs the lab process.
const Command = "lab-process"

// SocketPath, LogPath and PIDPath locate the lab process's files.
func SocketPath(o lab.Options, name string) string {
	return filepath.Join(o.RuntimeDir(name), fileSocket)
}
func LogPath(o lab.Options, name string) string { return filepath.Join(o.RuntimeDir(name), fileLog) }
func PIDPath(o lab.Options, name string) string { return filepath.Join(o.RuntimeDir(name), filePID) }

// Ensure starts the lab process unless one answers already, then asks it
// to reload the lab's recorded state and waits until it has. A lab process
// that runs but does not answer (stopped, hung) is reported, not replaced:
// it may be stopped on purpose, to watch a lab without its kube-proxy.
func Ensure(ctx context.Context, o lab.Options, name string) error {
	return ensure(ctx, o, name, false)
}

// EnsureReplacing is Ensure for `kinn up`: a lab process that is stopped or
// does not answer is killed and replaced by a new one.
func EnsureReplacing(ctx context.Context, o lab.Options, name string) error {
	return ensure(ctx, o, name, true)
}

func ensure(ctx context.Context, o lab.Options, name string, replace bool) error {
	if err := ctx.Err(); err != nil {
		return err // interrupted: start nothing
	}
	c := NewClient(o, name)
	err := c.ping(ctx)
	answered := err == nil
	if answered {
		var repaired []string
		repaired, err = c.Reload(ctx)
		for _, r := range repaired {
			if o.Progress != nil {
				fmt.Fprintf(o.Progress, "• %s\n", r)
			}
		}
	}
	if err == nil {
		return nil
	}
	var stuck *NotAnsweringError
	switch {
	case errors.As(err, &stuck) && replace && (!answered || stuck.Stopped) && !stuck.Busy:
		// Only one that does not even answer /ping is hung: one that
		// answered and then took longer than the reload's timeout is busy
		// (a large lab), and killing it would tear every pod's servers down.
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "• replacing the lab process: %v\n", stuck.what())
		}
		kill(stuck.PID)
	case errors.Is(err, errNotRunning):
	default:
		// It runs and answered (or is busy): its error is the news, and
		// restarting it would tear down every pod's servers for nothing.
		return fmt.Errorf("lab process: %w", err)
	}
	Stop(o, name) // a stale one that does not answer
	// A lab process for a lab that cannot be read (never recorded, or cut
	// short by a full disk) would only log errors forever.
	if _, err := lab.Load(o, name); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	logf, err := os.OpenFile(LogPath(o, name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(exe, "--state-dir", o.StateRoot, "--run-dir", o.RuntimeRoot, Command, "--name", name)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // outlives the terminal
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start lab process: %w", err)
	}
	go cmd.Wait() // reap it if it dies while we wait
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if _, err = c.Reload(ctx); err == nil || !errors.Is(err, errNotRunning) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("the lab process did not come up (%v); see %s", err, LogPath(o, name))
}

// kill ends a lab process that does not answer at once (SIGTERM would wait
// for a stopped one to be continued) and waits until it is gone, since it
// holds the pid file's lock its successor needs.
func kill(pid int) {
	if pid <= 0 {
		return
	}
	syscall.Kill(pid, syscall.SIGKILL)
	waitGone(pid, time.Now().Add(2*time.Second))
}

func waitGone(pid int, deadline time.Time) {
	for alive(pid) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
}

// Stop ends the lab's process: the one in its pid file and any other whose
// command line names this lab, SIGTERM first, SIGKILL after two seconds.
func Stop(o lab.Options, name string) error {
	pids := Find(o, name)
	for _, pid := range pids {
		if stopped(pid) {
			syscall.Kill(pid, syscall.SIGKILL) // SIGTERM would wait for SIGCONT
		} else {
			syscall.Kill(pid, syscall.SIGTERM)
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for _, pid := range pids {
		waitGone(pid, deadline)
		if alive(pid) {
			syscall.Kill(pid, syscall.SIGKILL)
			waitGone(pid, time.Now().Add(time.Second))
		}
	}
	os.Remove(SocketPath(o, name))
	os.Remove(PIDPath(o, name))
	return nil
}

// Find lists the pids of this lab's processes by their command line: the
// kinn binary running Command with --name NAME and this runtime root.
func Find(o lab.Options, name string) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(bytes.TrimRight(b, "\x00")), "\x00")
		if isLabProcess(args, o.RuntimeDir(""), name) || runsForLab(pid, o, name) {
			out = append(out, pid)
		}
	}
	return out
}

// labEnv marks a pod's program as belonging to a lab.
func labEnv(o lab.Options, name string) []string {
	return []string{"KINN_LAB=" + name, "KINN_LAB_RUN_DIR=" + filepath.Clean(o.RuntimeDir(""))}
}

// runsForLab reports whether pid is a pod program (kinn.dev/run) of the lab.
func runsForLab(pid int, o lab.Options, name string) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		return false
	}
	env := strings.Split(string(b), "\x00")
	for _, want := range labEnv(o, name) {
		found := false
		for _, kv := range env {
			found = found || kv == want
		}
		if !found {
			return false
		}
	}
	return true
}

func isLabProcess(args []string, runRoot, name string) bool {
	var cmd, lab, run string
	for i, a := range args {
		switch {
		case a == Command:
			cmd = a
		case a == "--name" && i+1 < len(args):
			lab = args[i+1]
		case a == "--run-dir" && i+1 < len(args):
			run = args[i+1]
		}
	}
	return cmd != "" && lab == name && filepath.Clean(run) == filepath.Clean(runRoot)
}

func alive(pid int) bool {
	st := procState(pid)
	return st != "" && st != "Z" // a zombie counts as gone: it holds nothing
}

// stopped reports whether pid is stopped by a signal (SIGSTOP, ^Z) or a
// debugger: it runs, but answers nothing until continued.
func stopped(pid int) bool {
	st := procState(pid)
	return st == "T" || st == "t"
}

// procState is the state letter of /proc/PID/stat ("" when there is no
// such process). It follows the command name, which is in parentheses and
// may hold spaces and parentheses itself.
func procState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// labPID is the pid of the lab's process: the one in its pid file if that
// still is the lab process, else one found by its command line; 0 if none.
func labPID(o lab.Options, name string) int {
	isLab := func(pid int) bool {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		return err == nil && isLabProcess(strings.Split(string(bytes.TrimRight(b, "\x00")), "\x00"), o.RuntimeDir(""), name)
	}
	if b, err := os.ReadFile(PIDPath(o, name)); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && isLab(pid) {
			return pid
		}
	}
	for _, pid := range Find(o, name) {
		if isLab(pid) {
			return pid
		}
	}
	return 0
}

// Client talks to a lab process over its socket.
type Client struct {
	http *http.Client
	o    lab.Options
	name string
}

// NewClient returns a client for the named lab's process.
func NewClient(o lab.Options, name string) *Client {
	sock := SocketPath(o, name)
	return &Client{o: o, name: name, http: &http.Client{
		// Each call has its own timeout (see call).
		// No keep-alive: the TUI and get make a client per poll, and idle
		// connections would pile up on both sides.
		Transport: &http.Transport{DisableKeepAlives: true, DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			addr, done, err := socketAddr(sock)
			if err != nil {
				return nil, err
			}
			defer done()
			var d net.Dialer
			return d.DialContext(ctx, "unix", addr)
		}},
	}}
}

// Reload asks the lab process to re-read the lab's state and converge to
// it, and returns what it found changed by hand in the proxy tables and
// put back.
func (c *Client) Reload(ctx context.Context) ([]string, error) {
	var r reloaded
	err := c.call(ctx, workTimeout, http.MethodPost, "/reload", nil, &r)
	return r.Repaired, err
}

var errNotRunning = errors.New("the lab process is not running (run `kinn up` to start it)")

// NotAnsweringError is a lab process that runs but does not answer:
// stopped (SIGSTOP, ^Z, a debugger) or hung. `kinn up` replaces it.
type NotAnsweringError struct {
	Lab     string
	PID     int // 0 if it could not be found
	Stopped bool
	Busy    bool // it answers /ping but not this call in time: working, not hung
}

func (e *NotAnsweringError) Error() string {
	if e.Busy {
		return fmt.Sprintf("%s: try again in a moment", e.what())
	}
	return fmt.Sprintf("%s: run `kinn up --name %s` to replace it", e.what(), e.Lab)
}

func (e *NotAnsweringError) what() string {
	proc := "the lab process"
	if e.PID > 0 {
		proc = fmt.Sprintf("the lab process (pid %d)", e.PID)
	}
	if e.Stopped {
		return proc + " is stopped (SIGSTOP?) and answers nothing until continued"
	}
	if e.Busy {
		return proc + " is busy (it answers, but did not finish this request in time)"
	}
	return proc + " does not answer"
}

// Edit changes a running lab's topology (lab.Edit) and has its lab process
// re-sync: the one path the CLI's live-change verbs and the terminal UI's
// actions share.
//
// The lab's lock is held throughout, so that no up or down comes between
// the change and the lab process's reload.
func Edit(ctx context.Context, o lab.Options, name string, change func([]byte, string) ([]byte, error)) (*lab.Result, error) {
	unlock, err := lab.Lock(o, name)
	if err != nil {
		return nil, err
	}
	defer unlock()
	res, err := lab.EditLocked(ctx, o, name, change)
	if err != nil {
		var probs topology.Problems
		if !errors.As(err, &probs) {
			Ensure(ctx, o, name) // part of the change may be live
		}
		return nil, err
	}
	return res, Ensure(ctx, o, name)
}
