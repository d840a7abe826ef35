package cni

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
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
//
// Only kinn's own execs are calls: a plugin that delegates (bridge to its
// IPAM plugin, flannel to bridge) execs the delegate itself, out of kinn's
// sight. What of a delegate can be seen is in its parent's call: libcni's
// delegation passes the delegate's stderr on to the parent's stderr (kept
// here), its error comes back inside the parent's, its result inside the
// parent's result.
type Call struct {
	Time    time.Time         `json:"time"`
	Node    string            `json:"node"`
	Pod     string            `json:"pod,omitempty"` // namespace/name from CNI_ARGS
	Network string            `json:"network,omitempty"`
	Plugin  string            `json:"plugin"` // the chain's plugin type
	Binary  string            `json:"binary,omitempty"`
	Command string            `json:"command"`
	Env     map[string]string `json:"env"` // the CNI_* variables
	Config  json.RawMessage   `json:"config,omitempty"`
	Result  json.RawMessage   `json:"result,omitempty"`
	// Stdout is the plugin's output when it is not JSON at all.
	Stdout string `json:"stdout,omitempty"`
	Stderr string `json:"stderr,omitempty"`
	// Error is the CNI error the plugin printed; Failure says how it
	// failed otherwise (no error on stdout, a signal, the timeout).
	Error      *types.Error `json:"error,omitempty"`
	Failure    string       `json:"failure,omitempty"`
	ExitStatus int          `json:"exitStatus"` // -1: ended by Signal
	Signal     string       `json:"signal,omitempty"`
	TimedOut   bool         `json:"timedOut,omitempty"`
	// Rejected is why the runtime did not accept what a plugin that
	// succeeded printed (libcni's own parse error); "" when it did.
	Rejected   string  `json:"rejected,omitempty"`
	DurationMS float64 `json:"durationMs"`
}

// Outcome is the call's verdict in a few words: ok, the plugin's error,
// how it failed, or why its output was not accepted.
func (c *Call) Outcome() string {
	switch {
	case c.TimedOut:
		return "timed out: " + c.Failure
	case c.Error != nil:
		return fmt.Sprintf("error %d: %s", c.Error.Code, strings.TrimSpace(c.Error.Msg+" "+c.Error.Details))
	case c.Failure != "":
		return c.Failure
	case c.Rejected != "":
		return "not accepted: " + c.Rejected
	}
	return "ok"
}

// OK says whether the call succeeded and its output was accepted.
func (c *Call) OK() bool { return c.Outcome() == "ok" }

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

// callOf describes an invocation from its environment.
func callOf(node string, stdin []byte, environ []string, start time.Time) Call {
	c := Call{Time: start, Node: node, Env: map[string]string{},
		DurationMS: float64(time.Since(start).Microseconds()) / 1000}
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
		if len(stdin) <= maxOutput {
			c.Config = stdin
		}
		var conf struct{ Name, Type string }
		json.Unmarshal(stdin, &conf)
		c.Network, c.Plugin = conf.Name, conf.Type
	}
	return c
}

// setOutput keeps stdout as JSON when it is, as text when it is not.
func (c *Call) setOutput(out []byte) {
	switch {
	case len(bytes.TrimSpace(out)) == 0:
	case json.Valid(out) && len(out) <= maxOutput:
		c.Result = out
	default: // not JSON, or too big to keep whole: text, cut
		c.Stdout = capped(out)
	}
}

// Printable is s with control characters other than newline and tab
// escaped (\x1b for ESC): a plugin's output is shown on a terminal, where
// escape sequences would act instead of showing.
func Printable(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0:
			fmt.Fprintf(&b, "\\x%02x", r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// maxOutput is how much of a plugin's configuration, stdout or stderr a
// call keeps: a panic's stack fits many times over, and a plugin that
// floods its output (or a huge configuration) cannot make the log's lines
// too long to read back, which would hide every later call.
const maxOutput = 64 << 10

func capped(b []byte) string {
	if len(b) <= maxOutput {
		return string(b)
	}
	return string(b[:maxOutput]) + fmt.Sprintf("\n… (%d more bytes cut)", len(b)-maxOutput)
}
