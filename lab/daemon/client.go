package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"syscall"
	"time"

	"kinn.dev/kinn/lab"
	"kinn.dev/kinn/lab/workload"
)

// How long a call waits for the lab process. A question must be answered
// at once; work (a reload converges every pod's servers and every node's
// rules) may take a while on a large lab. Past it, the lab process is
// reported as not answering instead of the command hanging.
const (
	askTimeout  = 5 * time.Second
	workTimeout = 30 * time.Second
)

// call sends one request; in and out are JSON bodies (nil for none). A lab
// process that is stopped is reported at once, one that does not answer
// within timeout after it.
func (c *Client) call(ctx context.Context, timeout time.Duration, method, path string, in, out any) error {
	if pid := labPID(c.o, c.name); pid > 0 && stopped(pid) {
		return &NotAnsweringError{Lab: c.name, PID: pid, Stopped: true}
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	callCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(callCtx, method, "http://lab"+path, body)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		err = c.failed(ctx, callCtx, err)
		var stuck *NotAnsweringError
		if path != "/ping" && errors.As(err, &stuck) && !stuck.Stopped && c.pingWithin(ctx, time.Second) == nil {
			stuck.Busy = true // it answers /ping, which takes no lock: busy, not hung
		}
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return c.failed(ctx, callCtx, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return errors.New(e.Error)
		}
		return fmt.Errorf("lab process: %s", resp.Status)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// failed says why a call got no answer: no lab process, or one that did
// not answer in time (the caller's own cancellation is its own news).
func (c *Client) failed(ctx, callCtx context.Context, err error) error {
	switch {
	case errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED):
		return errNotRunning
	case ctx.Err() == nil && callCtx.Err() != nil:
		pid := labPID(c.o, c.name)
		return &NotAnsweringError{Lab: c.name, PID: pid, Stopped: pid > 0 && stopped(pid)}
	}
	return err
}

// ping checks that the lab process answers at all, with the short timeout:
// any HTTP answer will do (a lab process older than /ping says 404).
func (c *Client) ping(ctx context.Context) error { return c.pingWithin(ctx, askTimeout) }

// pingWithin is ping with its own timeout.
func (c *Client) pingWithin(ctx context.Context, timeout time.Duration) error {
	err := c.call(ctx, timeout, http.MethodGet, "/ping", nil, nil)
	var stuck *NotAnsweringError
	if err == nil || errors.Is(err, errNotRunning) || errors.As(err, &stuck) {
		return err
	}
	return nil
}

// podRequest names a pod in a request to the lab process.
type podRequest struct {
	Namespace, Pod string
	Ready          bool  `json:",omitempty"`
	Grace          int64 `json:",omitempty"`
}

func (r podRequest) key() string { return r.Namespace + "/" + r.Pod }

// SetReady forces a pod unready (false) or lifts that (true).
func (c *Client) SetReady(ctx context.Context, ns, pod string, ready bool) error {
	return c.call(ctx, workTimeout, http.MethodPost, "/ready", podRequest{Namespace: ns, Pod: pod, Ready: ready}, nil)
}

// DeletePod starts a pod's termination with the given grace period.
func (c *Client) DeletePod(ctx context.Context, ns, pod string, grace int64) error {
	return c.call(ctx, workTimeout, http.MethodPost, "/delete-pod", podRequest{Namespace: ns, Pod: pod, Grace: grace}, nil)
}

// Status is what the lab process reports about its lab.
type Status struct {
	Pods map[string]PodStatus // by namespace/name
}

// PodStatus is one pod as the lab process sees it.
type PodStatus struct {
	Running     bool   `json:"running"` // its servers listen
	Ready       bool   `json:"ready"`
	Terminating bool   `json:"terminating,omitempty"`
	Reason      string `json:"reason,omitempty"`
	// Forced is `kinn ready POD false` in force.
	Forced bool `json:"forced,omitempty"`
	// Probes are its containers' readiness probes as they stand.
	Probes []workload.ProbeResult `json:"probes,omitempty"`
}

// Readiness is the status's view of the pods' readiness, as lab.PodStates
// and lab.State.Pods take it. Without a status (the lab process is down)
// no pod is ready, which is what the proxy would act on too.
func (s *Status) Readiness() lab.Readiness {
	return func(key string) (bool, bool) {
		if s == nil {
			return false, false
		}
		p := s.Pods[key]
		return p.Ready, p.Terminating
	}
}

// Live is the status's detail of each pod, as lab.State.PodsLive takes
// it; without a status nothing is known.
func (s *Status) Live() lab.LiveStatus {
	return func(key string) lab.PodLive {
		if s == nil {
			return lab.PodLive{}
		}
		p, ok := s.Pods[key]
		if !ok {
			// Not (yet) started by the lab process: not running.
			return lab.PodLive{Known: true, Reason: "not started by the lab process yet"}
		}
		return lab.PodLive{Known: true, Running: p.Running, Ready: p.Ready, Terminating: p.Terminating,
			Forced: p.Forced, Reason: p.Reason, Probes: p.Probes}
	}
}

// Status fetches the lab's live status.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	var s Status
	if err := c.call(ctx, askTimeout, http.MethodGet, "/status", nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}
