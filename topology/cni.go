package topology

import (
	"os"
	"path/filepath"
	"strings"
	"time"
)

// resolveCNI checks the cni section against networking.disableDefaultCNI.
// kind's way to say "the cluster brings its own CNI" is disableDefaultCNI;
// without a cni block kinn would not know which chain to run, and a cni
// block in a kind file without it would contradict the file's own promise.
// What the chain says is lab/cni's business: it needs the plugin binaries.
func resolveCNI(d *doc, c *clusterFile, r *report) *CNIConfig {
	disabled := c.Networking.DisableDefaultCNI
	kind := c.APIVersion == kindAPIVersion
	if c.CNI == nil {
		if disabled {
			r.errorf(d.at("networking", "disableDefaultCNI"),
				"networking.disableDefaultCNI: true needs a cni block saying which plugins to run: cni: {confList: FILE or inline JSON, binDir: DIR}")
		}
		return nil
	}
	if kind && !disabled {
		r.errorf(d.keyAt("cni"), "cni: set networking.disableDefaultCNI: true too (a kind cluster with its default CNI runs no other chain)")
	}
	out := *c.CNI
	out.ConfListPos, out.BinDirPos = d.at("cni", "confList"), d.at("cni", "binDir")
	// Absolute, so that later commands run from elsewhere (and the lab
	// process) find the same files; from stdin, relative to where it ran.
	if d.file != "" && !strings.HasPrefix(d.file, "<") {
		out.Dir, _ = filepath.Abs(filepath.Dir(d.file))
	} else {
		out.Dir, _ = os.Getwd()
	}
	if out.ConfList == "" {
		r.errorf(d.keyAt("cni"), "cni.confList is required: a .conflist file or the configuration list as inline JSON")
	}
	if out.BinDir == "" {
		out.BinDir = DefaultCNIBinDir
	}
	out.CallTimeout = cniTimeout(d, out.Timeout, r)
	return &out
}

// cniTimeout is cni.timeout parsed, DefaultCNITimeout when absent.
func cniTimeout(d *doc, s string, r *report) time.Duration {
	if s == "" {
		return DefaultCNITimeout
	}
	t, err := time.ParseDuration(s)
	if err != nil || t <= 0 {
		r.errorf(d.at("cni", "timeout"), "cni.timeout %q must be a positive duration such as 30s or 2m", s)
		return DefaultCNITimeout
	}
	return t
}
