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
	fileLog    = "lab.log"
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
// to reload the lab's recorded state and waits until it has.
func Ensure(ctx context.Context, o lab.Options, name string) error {
	c := NewClient(o, name)
	err := c.Reload(ctx)
	if err == nil {
		return nil
	}
	if !errors.Is(err, errNotRunning) {
		// It runs and answered (or is busy): its error is the news, and
		// restarting it would tear down every pod's servers for nothing.
		return fmt.Errorf("lab process: %w", err)
	}
	Stop(o, name) // a stale one that does not answer
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
		if err = c.Reload(ctx); err == nil || !errors.Is(err, errNotRunning) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("the lab process did not come up (%v); see %s", err, LogPath(o, name))
}

// Stop ends the lab's process: the one in its pid file and any other whose
// command line names this lab, SIGTERM first, SIGKILL after two seconds.
func Stop(o lab.Options, name string) error {
	pids := Find(o, name)
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGTERM)
	}
	deadline := time.Now().Add(2 * time.Second)
	for _, pid := range pids {
		for alive(pid) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if alive(pid) {
			syscall.Kill(pid, syscall.SIGKILL)
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
	// A zombie counts as gone: it holds nothing.
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	f := strings.Fields(string(b))
	return len(f) > 2 && f[2] != "Z"
}

// Client talks to a lab process over its socket.
type Client struct {
	http *http.Client
}

// NewClient returns a client for the named lab's process.
func NewClient(o lab.Options, name string) *Client {
	sock := SocketPath(o, name)
	return &Client{http: &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}},
	}}
}

// Reload asks the lab process to re-read the lab's state and converge to it.
func (c *Client) Reload(ctx context.Context) error {
	return c.call(ctx, http.MethodPost, "/reload", nil, nil)
}

var errNotRunning = errors.New("the lab process is not running (run `kinn up` to start it)")

// Edit changes a running lab's topology (lab.Edit) and has its lab process
// re-sync: the one path the CLI's live-change verbs and the terminal UI's
// actions share.
func Edit(ctx context.Context, o lab.Options, name string, change func([]byte, string) ([]byte, error)) (*lab.Result, error) {
	res, err := lab.Edit(ctx, o, name, change)
	if err != nil {
		var probs topology.Problems
		if !errors.As(err, &probs) {
			Ensure(ctx, o, name) // part of the change may be live
		}
		return nil, err
	}
	return res, Ensure(ctx, o, name)
}
