package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/version"
)

// plugin runs one plugin binary directly, outside libcni, with the given
// stdin and CNI_* variables; CNI_PATH is the run's binDir.
func (r *run) plugin(ctx context.Context, typ string, stdin []byte, vars ...string) (call, error) {
	path, err := invoke.FindInPath(typ, []string{r.binDir})
	if err != nil {
		return call{}, err
	}
	environ := append(os.Environ(), "CNI_PATH="+r.binDir)
	environ = append(environ, vars...)
	c, _ := r.rec.run(ctx, path, stdin, environ) // judged by what the plugin printed and how it exited
	return c, nil
}

// pluginTypes are the chain's plugin types, each once, in order.
func (r *run) pluginTypes() []string {
	var out []string
	for _, p := range r.list.Plugins {
		if !slices.Contains(out, p.Network.Type) {
			out = append(out, p.Network.Type)
		}
	}
	return out
}

// versionScenario asks every plugin VERSION at the list's cniVersion and
// at each version it declares, and keeps the versions all plugins share
// for the per-version runs.
func (r *run) versionScenario(ctx context.Context) error {
	var p problems
	var common []string
	for i, typ := range r.pluginTypes() {
		c, err := r.plugin(ctx, typ, versionStdin(r.list.CNIVersion), "CNI_COMMAND=VERSION")
		if err != nil {
			p.addf("%s: %v", typ, err)
			continue
		}
		if c.Exit != 0 {
			p.addf("%s: VERSION exited %d: %s", typ, c.Exit, clip(append(c.Stdout, c.Stderr...)))
			continue
		}
		probs, supported := versionProblems(c.Stdout, r.list.CNIVersion)
		for _, x := range probs {
			p.addf("%s: %s", typ, x)
		}
		for _, v := range supported {
			if c, err := r.plugin(ctx, typ, versionStdin(v), "CNI_COMMAND=VERSION"); err != nil || c.Exit != 0 {
				p.addf("%s: declares %s but VERSION asked at %s fails", typ, v, v)
			}
		}
		if i == 0 {
			common = supported
		} else {
			common = slices.DeleteFunc(common, func(v string) bool { return !slices.Contains(supported, v) })
		}
	}
	slices.SortFunc(common, func(a, b string) int {
		switch gt, _ := version.GreaterThan(a, b); {
		case gt:
			return 1
		case a == b:
			return 0
		}
		return -1
	})
	r.versions = common
	r.rep.judge("VERSION", specVersion, p, "supported by every plugin: "+strings.Join(common, ", "))
	return nil
}

func versionStdin(v string) []byte { return []byte(`{"cniVersion":"` + v + `"}`) }

// statusScenario asks the chain whether it can serve ADD (1.1.0 on).
func (r *run) statusScenario(ctx context.Context) error {
	if ok, _ := version.GreaterThanOrEqualTo(r.list.CNIVersion, "1.1.0"); !ok {
		r.rep.add("STATUS", specStatus, Skip, "cniVersion "+r.list.CNIVersion+" has no STATUS")
		return nil
	}
	var p problems
	p.err("STATUS", r.cni.GetStatusNetworkList(ctx, r.list))
	r.rep.judge("STATUS", specStatus, p, "ready")
	return nil
}

// errorCodes provokes the errors with well-known codes every plugin can
// tell: a cniVersion it cannot speak (1), a configuration that is not
// JSON (6), and ADD without CNI_CONTAINERID (4).
func (r *run) errorCodes(ctx context.Context) error {
	a, err := r.attachment()
	if err != nil {
		return err
	}
	vars := []string{"CNI_COMMAND=ADD", "CNI_NETNS=" + a.rt.NetNS, "CNI_IFNAME=" + a.rt.IfName}
	var p problems
	for i, pl := range r.list.Plugins {
		conf := pluginConf(pl.Bytes, r.list.Name, r.list.CNIVersion)
		cases := []struct {
			what  string
			stdin []byte
			vars  []string
			code  uint
		}{
			{"cniVersion 99.0.0", pluginConf(pl.Bytes, r.list.Name, "99.0.0"), append(vars, "CNI_CONTAINERID="+a.rt.ContainerID), 1},
			{"a configuration that is not JSON", []byte("{not json"), append(vars, "CNI_CONTAINERID="+a.rt.ContainerID), 6},
			{"no CNI_CONTAINERID", conf, vars, 4},
		}
		for _, tc := range cases {
			c, err := r.plugin(ctx, pl.Network.Type, tc.stdin, tc.vars...)
			if err != nil {
				return err
			}
			who := fmt.Sprintf("plugins[%d] %s, ADD with %s", i, pl.Network.Type, tc.what)
			if c.Exit == 0 {
				p.addf("%s: succeeded", who)
				continue
			}
			if code, ok := errorCode(c.Stdout); !ok {
				p.addf("%s: no error code on stdout", who)
			} else if code != tc.code {
				p.addf("%s: code %d, want %d", who, code, tc.code)
			}
		}
	}
	r.rep.judge("error codes", specErrCodes, p, "")
	return nil
}

// pluginConf is a plugin's configuration as the runtime hands it over,
// with the list's name and the given cniVersion.
func pluginConf(b []byte, name, v string) []byte {
	var m map[string]any
	json.Unmarshal(b, &m)
	m["name"], m["cniVersion"] = name, v
	out, _ := json.Marshal(m)
	return out
}

// errorShape judges every failing call of the run, wherever it came from.
func (r *run) errorShape() {
	calls, _ := r.rec.since(0)
	var p problems
	seen := map[string]bool{}
	n := 0
	for _, c := range calls {
		if c.Exit == 0 {
			continue
		}
		n++
		var probs []string
		if c.Timeout {
			probs = []string{"timed out"}
		} else {
			probs = errorProblems(c.Stdout, c.Exit)
		}
		for _, x := range probs {
			line := c.Plugin + " " + c.Command + ": " + x
			if !seen[line] {
				seen[line] = true
				p = append(p, line)
			}
		}
	}
	r.rep.judge("error JSON", specErrShape, p, fmt.Sprintf("%d failing calls, each printed a well-formed error", n))
}

// otherVersions runs ADD, CHECK, DEL and DEL again at every other version
// all the plugins declare, judging results at that version.
func (r *run) otherVersions(ctx context.Context) error {
	var old []string
	for _, v := range r.versions {
		if v == r.list.CNIVersion {
			continue
		}
		if ok, _ := version.GreaterThanOrEqualTo(v, "0.3.0"); !ok {
			old = append(old, v)
			continue
		}
		l, err := r.listAt(v)
		if err != nil {
			return err
		}
		a, before, err := r.fresh()
		if err != nil {
			return err
		}
		c := r.lifecycle(ctx, l, a)
		r.rep.judge("cniVersion "+v, specVersions, c.all(), "ADD, CHECK, DEL, DEL")
		r.leftover("cniVersion "+v, before)
		r.rep.Versions = append(r.rep.Versions, v)
	}
	if len(old) > 0 {
		r.rep.add("cniVersion "+strings.Join(old, ", "), specVersions, Skip, "configuration lists start at 0.3.0")
	}
	return nil
}
