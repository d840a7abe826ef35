package cni

import (
	"bufio"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/containernetworking/cni/pkg/types"
)

// Call is one plugin invocation as the runtime made it: what a developer
// debugging a plugin wants to see, and what `kinn cni log` prints.
type Call struct {
	Time       time.Time         `json:"time"`
	Node       string            `json:"node"`
	Pod        string            `json:"pod,omitempty"` // namespace/name from CNI_ARGS
	Plugin     string            `json:"plugin"`
	Command    string            `json:"command"`
	Env        map[string]string `json:"env"` // the CNI_* variables
	Config     json.RawMessage   `json:"config,omitempty"`
	Result     json.RawMessage   `json:"result,omitempty"`
	Error      *types.Error      `json:"error,omitempty"`
	DurationMS float64           `json:"durationMs"`
	ExitStatus int               `json:"exitStatus"`
}

// CallLog appends calls to a JSON-lines file in the lab's state directory.
type CallLog struct {
	Path string
	mu   sync.Mutex
	f    *os.File
}

// Record appends one call; a log that cannot be written never fails the
// call it describes. A line goes in whole or not at all: one write, and a
// short one (a full disk) is cut off again, so that the log stays lines of
// JSON that readers can trust.
func (l *CallLog) Record(c Call) {
	if l == nil || l.Path == "" {
		return
	}
	b, err := json.Marshal(c)
	if err != nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		os.MkdirAll(filepath.Dir(l.Path), 0o755)
		if l.f, err = os.OpenFile(l.Path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
			return
		}
	}
	st, err := l.f.Stat()
	if err != nil {
		return
	}
	if _, err := l.f.Write(append(b, '\n')); err != nil {
		l.f.Truncate(st.Size()) // the file is only ever appended to under the lab's lock
	}
}

// Close closes the file.
func (l *CallLog) Close() {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
}

// ReadCalls reads a call log, newest first.
func ReadCalls(path string) ([]Call, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Call
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var c Call
		if json.Unmarshal(sc.Bytes(), &c) == nil {
			out = append(out, c)
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, sc.Err()
}

// callOf describes an invocation from its environment and outcome.
func callOf(node, plugin string, stdin []byte, environ []string, out []byte, err error, took time.Duration) Call {
	c := Call{Time: time.Now().Add(-took), Node: node, Plugin: plugin, Env: map[string]string{},
		DurationMS: float64(took.Microseconds()) / 1000}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "CNI_") {
			c.Env[k] = v
		}
	}
	c.Command = c.Env["CNI_COMMAND"]
	var ns, name string
	for _, kv := range strings.Split(c.Env["CNI_ARGS"], ";") {
		switch k, v, _ := strings.Cut(kv, "="); k {
		case "K8S_POD_NAMESPACE":
			ns = v
		case "K8S_POD_NAME":
			name = v
		}
	}
	if name != "" {
		c.Pod = ns + "/" + name
	}
	if json.Valid(stdin) {
		c.Config = stdin
	}
	if len(out) > 0 && json.Valid(out) {
		c.Result = out
	}
	if err != nil {
		c.ExitStatus = 1
		var te *types.Error
		if errors.As(err, &te) {
			c.Error = te
		} else {
			c.Error = types.NewError(types.ErrInternal, err.Error(), "")
		}
	}
	return c
}
