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

	"kinn.dev/kinn/lab"
)

// call sends one request; in and out are JSON bodies (nil for none).
func (c *Client) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://lab"+path, body)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return errNotRunning
		}
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
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

// podRequest names a pod in a request to the lab process.
type podRequest struct {
	Namespace, Pod string
	Ready          bool  `json:",omitempty"`
	Grace          int64 `json:",omitempty"`
}

func (r podRequest) key() string { return r.Namespace + "/" + r.Pod }

// SetReady forces a pod unready (false) or lifts that (true).
func (c *Client) SetReady(ctx context.Context, ns, pod string, ready bool) error {
	return c.call(ctx, http.MethodPost, "/ready", podRequest{Namespace: ns, Pod: pod, Ready: ready}, nil)
}

// DeletePod starts a pod's termination with the given grace period.
func (c *Client) DeletePod(ctx context.Context, ns, pod string, grace int64) error {
	return c.call(ctx, http.MethodPost, "/delete-pod", podRequest{Namespace: ns, Pod: pod, Grace: grace}, nil)
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

// Status fetches the lab's live status.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	var s Status
	if err := c.call(ctx, http.MethodGet, "/status", nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}
