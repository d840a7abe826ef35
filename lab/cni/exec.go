package cni

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/version"

	"kinn.dev/kinn/lab/kernel"
	"kinn.dev/kinn/topology"
)

// builtinPath is what FindInPath answers for kinn's own plugin: it runs
// in-process, which saves a fork and exec of the whole binary per call
// (about 6 ms a pod here). A binary still serves any other runtime.
const builtinPath = "builtin:" + PluginType

// nodeExec runs plugins for one node: with the node's namespace as their
// host namespace, exactly as a runtime running on that node would. Plugin
// binaries are forked from a thread inside the node's namespace; kinn's own
// plugin runs in-process on such a thread, given the same stdin and
// environment and returning the same JSON a binary would print.
type nodeExec struct {
	netns string
	node  string
	log   *CallLog
	chain bool // a user's chain: its binDir first, even for a "kinn" binary
	// callTimeout bounds each call of a binary; 0 for the default.
	// kinn's own plugin in-process is kinn's code, not a plugin under test.
	callTimeout time.Duration
	view        NodeView // where binaries start: the node's namespace and files
	version.PluginDecoder
}

var _ invoke.Exec = (*nodeExec)(nil)

func (e *nodeExec) FindInPath(plugin string, paths []string) (string, error) {
	if plugin == PluginType && !e.chain {
		return builtinPath, nil
	}
	p, err := invoke.FindInPath(plugin, paths)
	if err != nil && plugin == PluginType {
		return builtinPath, nil
	}
	return p, err
}

// ExecPlugin runs one call and logs it, whatever its outcome.
func (e *nodeExec) ExecPlugin(ctx context.Context, path string, stdin []byte, environ []string) ([]byte, error) {
	if path == builtinPath {
		return e.execBuiltin(ctx, stdin, environ)
	}
	start := time.Now()
	r := execBinary(ctx, e.view.Start, path, stdin, environ, e.timeout())
	err := r.error(filepath.Base(path), e.timeout())
	c := callOf(e.node, stdin, environ, start)
	c.Plugin, c.Binary = cmp.Or(c.Plugin, filepath.Base(path)), path
	c.setOutput(r.Stdout)
	c.Stderr, c.ExitStatus, c.Signal, c.TimedOut = capped(r.Stderr), r.Exit, r.Signal, r.TimedOut
	switch {
	case err == nil:
		c.Rejected = rejection(ctx, path, stdin, environ, r.Stdout)
	case r.pluginError() != nil:
		c.Error = r.pluginError()
	default:
		c.Failure = err.Error()
	}
	e.log.Record(c)
	if err != nil {
		return nil, err
	}
	return r.Stdout, nil
}

// execBuiltin runs kinn's own plugin in-process, on a thread in the
// node's namespace.
func (e *nodeExec) execBuiltin(ctx context.Context, stdin []byte, environ []string) ([]byte, error) {
	start := time.Now()
	var out []byte
	err := kernel.Do(e.netns, func() (err error) {
		out, err = runBuiltin(stdin, environ)
		return err
	})
	c := callOf(e.node, stdin, environ, start)
	c.Plugin, c.Binary = cmp.Or(c.Plugin, PluginType), "builtin"
	c.setOutput(out)
	if err != nil {
		c.ExitStatus, c.Error = 1, asCNIError(err)
	} else {
		c.Rejected = rejection(ctx, builtinPath, stdin, environ, out)
	}
	e.log.Record(c)
	return out, err
}

func (e *nodeExec) timeout() time.Duration {
	return cmp.Or(e.callTimeout, topology.DefaultCNITimeout)
}

// rejection is why libcni would not take out as the answer of a plugin
// that succeeded, in libcni's own words ("" when it would): the same parse
// it is about to run, run first on a replay of the output.
func rejection(ctx context.Context, path string, stdin []byte, environ []string, out []byte) string {
	var err error
	switch envOf(environ, "CNI_COMMAND") {
	case "ADD":
		_, err = invoke.ExecPluginWithResult(ctx, path, stdin, envArgs(environ), replay(out))
	case "VERSION":
		_, err = (&version.PluginDecoder{}).Decode(out)
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

// replay answers every exec with the output a plugin already gave.
type replay []byte

func (r replay) ExecPlugin(context.Context, string, []byte, []string) ([]byte, error) { return r, nil }
func (replay) FindInPath(p string, _ []string) (string, error)                        { return p, nil }
func (replay) Decode(b []byte) (version.PluginInfo, error) {
	return (&version.PluginDecoder{}).Decode(b)
}

// envArgs passes an environment through as libcni's CNIArgs.
type envArgs []string

func (a envArgs) AsEnv() []string { return a }

func envOf(environ []string, key string) string {
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}

// runBuiltin dispatches one CNI call to kinn's plugin, as skel would.
func runBuiltin(stdin []byte, environ []string) ([]byte, error) {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	args := &skel.CmdArgs{
		ContainerID: env["CNI_CONTAINERID"], Netns: env["CNI_NETNS"], IfName: env["CNI_IFNAME"],
		Args: env["CNI_ARGS"], Path: env["CNI_PATH"], StdinData: stdin,
	}
	var conf types.PluginConf
	if err := json.Unmarshal(stdin, &conf); err != nil {
		return nil, types.NewError(types.ErrDecodingFailure, "failed to parse network configuration", err.Error())
	}
	var err error
	switch env["CNI_COMMAND"] {
	case "ADD":
		r, aerr := Add(args)
		if aerr != nil {
			return nil, asCNIError(aerr)
		}
		r, aerr = r.GetAsVersion(conf.CNIVersion)
		if aerr != nil {
			return nil, asCNIError(aerr)
		}
		var buf bytes.Buffer
		if aerr = r.PrintTo(&buf); aerr != nil {
			return nil, aerr
		}
		return buf.Bytes(), nil
	case "DEL":
		err = Del(args)
	case "CHECK":
		err = Check(args)
	case "GC":
		err = GC(args)
	case "STATUS":
		err = Status(args)
	case "VERSION":
		var buf bytes.Buffer
		err = Versions.Encode(&buf)
		return buf.Bytes(), err
	default:
		err = types.NewError(types.ErrInvalidEnvironmentVariables, fmt.Sprintf("unknown CNI_COMMAND: %s", env["CNI_COMMAND"]), "")
	}
	if err != nil {
		return nil, asCNIError(err)
	}
	return nil, nil
}

func asCNIError(err error) *types.Error {
	var te *types.Error
	if errors.As(err, &te) {
		return te
	}
	return types.NewError(types.ErrInternal, err.Error(), "")
}

// pluginPath is the CNI path: KINN_CNI_PATH, else next to the kinn binary.
func pluginPath() []string {
	if p := os.Getenv("KINN_CNI_PATH"); p != "" {
		return filepath.SplitList(p)
	}
	if exe, err := os.Executable(); err == nil {
		return []string{filepath.Dir(exe)}
	}
	return nil
}
