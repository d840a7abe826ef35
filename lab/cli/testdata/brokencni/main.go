// Command brokencni is a chained CNI plugin broken on purpose, one way per
// name it is run by (broken-del-twice, ...), for the conformance tests: a plugin author's typical
// mistakes, each of which one clause of `kinn cni conformance` must name.
//
//	del-twice    DEL fails unless the ADD's marker is there (so a second DEL fails)
//	leak-link    ADD makes a bridge in the host namespace that DEL leaves
//	bad-error    an unparsable configuration gets an error that is not CNI's JSON
//	ignore-prev  ADD prints a result of its own, dropping prevResult
package main

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"
)

type conf struct {
	types.PluginConf
	StateDir string `json:"stateDir"`
}

// mode is how the plugin is broken: its name after "broken-".
var mode = strings.TrimPrefix(filepath.Base(os.Args[0]), "broken-")

func main() {
	if mode == "bad-error" && os.Getenv("CNI_COMMAND") == "ADD" {
		// skel reads stdin itself: read it first, hand it on.
		b, _ := io.ReadAll(os.Stdin)
		var c conf
		if json.Unmarshal(b, &c) != nil {
			fmt.Println(`{"error": "cannot parse"}`)
			os.Exit(1)
		}
		r, w, _ := os.Pipe()
		go func() { w.Write(b); w.Close() }()
		os.Stdin = r
	}
	skel.PluginMainFuncs(skel.CNIFuncs{Add: add, Del: del, Check: func(*skel.CmdArgs) error { return nil },
		GC: func(*skel.CmdArgs) error { return nil }, Status: func(*skel.CmdArgs) error { return nil }},
		version.All, "broken on purpose")
}

func parse(b []byte) (*conf, error) {
	c := &conf{}
	if err := json.Unmarshal(b, c); err != nil {
		return nil, err
	}
	return c, version.ParsePrevResult(&c.PluginConf)
}

func marker(c *conf, id string) string { return filepath.Join(c.StateDir, id) }

func link(id string) string { return fmt.Sprintf("lk%x", sha256.Sum256([]byte(id)))[:12] }

func add(args *skel.CmdArgs) error {
	c, err := parse(args.StdinData)
	if err != nil {
		return err
	}
	switch mode {
	case "del-twice":
		os.WriteFile(marker(c, args.ContainerID), nil, 0o644)
	case "leak-link":
		if out, err := exec.Command("ip", "link", "add", link(args.ContainerID), "type", "bridge").CombinedOutput(); err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
	case "ignore-prev":
		return types.PrintResult(&current.Result{CNIVersion: current.ImplementedSpecVersion}, c.CNIVersion)
	}
	if c.PrevResult == nil {
		return types.PrintResult(&current.Result{CNIVersion: current.ImplementedSpecVersion}, c.CNIVersion)
	}
	return types.PrintResult(c.PrevResult, c.CNIVersion)
}

func del(args *skel.CmdArgs) error {
	c, err := parse(args.StdinData)
	if err != nil {
		return err
	}
	if mode == "del-twice" {
		if err := os.Remove(marker(c, args.ContainerID)); err != nil {
			return fmt.Errorf("nothing to delete: %w", err)
		}
	}
	return nil
}
