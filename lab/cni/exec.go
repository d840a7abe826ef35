package cni

import (
	"bytes"
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
	view  nodeView
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

func (e *nodeExec) ExecPlugin(ctx context.Context, path string, stdin []byte, environ []string) (out []byte, err error) {
	start := time.Now()
	defer func() { e.log.Record(callOf(e.node, filepath.Base(path), stdin, environ, out, err, time.Since(start))) }()
	err = kernel.Do(e.netns, func() error {
		var err error
		if path == builtinPath {
			out, err = runBuiltin(stdin, environ)
		} else {
			out, err = e.view.exec(ctx, path, stdin, environ)
		}
		return err
	})
	return out, err
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

func asCNIError(err error) error {
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
