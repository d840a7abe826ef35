package conformance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/containernetworking/cni/libcni"

	"kinn.dev/kinn/lab/cni"
	"kinn.dev/kinn/lab/kernel"
	"kinn.dev/kinn/lab/plan"
)

// Options say which chain to judge and with which node's values.
type Options struct {
	// ConfList renders the chain's configuration list for the node whose
	// directory is nodeDir (host-local's reservations go under it).
	ConfList func(nodeDir string) ([]byte, error)
	BinDir   string    // the plugins; "" with Self
	Self     string    // a kinn binary to serve plugin type "kinn" (the built-in chain)
	Node     plan.Node // the template values' node: pod CIDR for the addresses offered
	// PodSubnet is the cluster's, for the node's flannel subnet.env;
	// invalid: none is written.
	PodSubnet netip.Prefix
	Timeout   time.Duration
	Progress  io.Writer // a line per scenario; nil for none
}

// nsPrefix starts the name of every namespace a run creates: not kinn.
// (a lab's prefix), so no lab's namespace can ever share a name with one.
const nsPrefix = "kinnconf-"

// run is one conformance run: its namespaces, directories and findings.
type run struct {
	o        Options
	id       string
	dir      string // throwaway: node/ (the plugins' /var/lib/cni), cache/ (libcni), bin/
	nodeDir  string
	node     string // the node namespace's name
	rec      *recorder
	rep      *Report
	conf     []byte // the list as rendered
	list     *libcni.NetworkConfigList
	cni      *libcni.CNIConfig
	binDir   string
	netns    []string // created, removed by cleanup
	n        int
	empty    []string            // the node's state before any ADD
	baseline []string            // after the first attachment came and went
	leaks    map[string][]string // scenario -> what it left in the node
	versions []string            // every version the plugins share
}

// Run judges the chain. It returns the report even when ctx ends early
// (with the clauses judged so far) and always removes what it created.
func Run(ctx context.Context, o Options) (rep *Report, err error) {
	start := time.Now()
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	r := &run{o: o, id: randomID(), leaks: map[string][]string{}}
	defer func() {
		if cerr := r.cleanup(); cerr != nil && err == nil {
			err = cerr
		}
		if rep != nil {
			rep.DurationMS = float64(time.Since(start).Microseconds()) / 1000
		}
	}()
	if err := r.setup(); err != nil {
		return nil, err
	}
	r.scenarios(ctx)
	if ctx.Err() != nil {
		return r.rep, fmt.Errorf("conformance run interrupted: %w", ctx.Err())
	}
	return r.rep, nil
}

func randomID() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// setup makes the directories and the node namespace and reads the list.
func (r *run) setup() error {
	var err error
	if r.dir, err = os.MkdirTemp("", "kinn-conformance-"); err != nil {
		return err
	}
	r.nodeDir = filepath.Join(r.dir, "node")
	r.binDir = r.o.BinDir
	if r.o.Self != "" {
		r.binDir = filepath.Join(r.dir, "bin")
		if err := os.MkdirAll(r.binDir, 0o755); err != nil {
			return err
		}
		if err := os.Symlink(r.o.Self, filepath.Join(r.binDir, "kinn")); err != nil {
			return err
		}
	}
	if r.o.PodSubnet.IsValid() {
		// What flanneld would have written for the node.
		if err := cni.WriteSubnetEnv(r.nodeDir, r.o.PodSubnet, r.o.Node); err != nil {
			return err
		}
	}
	if r.conf, err = r.o.ConfList(r.nodeDir); err != nil {
		return err
	}
	if r.list, err = libcni.NetworkConfFromBytes(r.conf); err != nil {
		return fmt.Errorf("configuration list: %w", err)
	}
	if len(r.list.Plugins) == 0 {
		return errors.New("configuration list has no plugins")
	}
	r.rep = &Report{ID: r.id, Network: r.list.Name, CNIVersion: r.list.CNIVersion, BinDir: r.binDir, Versions: []string{r.list.CNIVersion}}
	for _, p := range r.list.Plugins {
		r.rep.Plugins = append(r.rep.Plugins, p.Network.Type)
	}
	r.node = nsPrefix + r.id + "-node"
	if err := r.newNetns(r.node); err != nil {
		return err
	}
	r.rec = &recorder{view: cni.NewNodeView(r.node, r.nodeDir), timeout: r.o.Timeout}
	r.cni = r.config(filepath.Join(r.dir, "cache"))
	return nil
}

// config is libcni with its result cache in dir.
func (r *run) config(cacheDir string) *libcni.CNIConfig {
	return libcni.NewCNIConfigWithCacheDir([]string{r.binDir}, cacheDir, r.rec)
}

func (r *run) newNetns(name string) error {
	if _, err := kernel.CreateNetns(name); err != nil {
		return err
	}
	r.netns = append(r.netns, name)
	return nil
}

// cleanup removes every namespace and the directory the run made. The
// node's namespace goes last: deleting it takes whatever the plugins left
// in it along.
func (r *run) cleanup() error {
	var errs []error
	for i := len(r.netns) - 1; i >= 0; i-- {
		if err := kernel.DeleteNetns(r.netns[i]); err != nil {
			errs = append(errs, err)
		}
	}
	kernel.RemoveNetnsDirIfEmpty()
	if r.dir != "" {
		errs = append(errs, os.RemoveAll(r.dir))
	}
	return errors.Join(errs...)
}

// attachment is one container of the scenarios.
type attachment struct {
	netns string
	rt    *libcni.RuntimeConf
}

// attachment makes a container namespace and the runtime's parameters for
// it, with the capabilities kinn's runtime passes: an address of the
// node's pod CIDR (ips), the CIDR (ipRanges) and a port (portMappings).
func (r *run) attachment() (*attachment, error) {
	r.n++
	name := "c" + strconv.Itoa(r.n)
	a := &attachment{netns: nsPrefix + r.id + "-" + name}
	if err := r.newNetns(a.netns); err != nil {
		return nil, err
	}
	id := "kinnconf-" + r.id + "-" + name
	cidr := r.o.Node.PodCIDR.Masked()
	addr := cidr.Addr()
	for range 10 + r.n {
		addr = addr.Next()
	}
	caps := map[string]any{
		"ips":          []string{netip.PrefixFrom(addr, cidr.Bits()).String()},
		"ipRanges":     [][]map[string]string{{{"subnet": cidr.String()}}},
		"portMappings": []map[string]any{{"hostPort": 20000 + r.n, "containerPort": 8080, "protocol": "tcp"}},
	}
	a.rt = &libcni.RuntimeConf{
		ContainerID: id, NetNS: kernel.NetnsPath(a.netns), IfName: "eth0",
		Args: [][2]string{{"IgnoreUnknown", "1"}, {"K8S_POD_NAMESPACE", "conformance"}, {"K8S_POD_NAME", name},
			{"K8S_POD_INFRA_CONTAINER_ID", id}},
		CapabilityArgs: caps,
	}
	return a, nil
}

// gone deletes an attachment's namespace, as a runtime whose container
// died before its DEL would find it.
func (r *run) gone(a *attachment) error { return kernel.DeleteNetnsLinks(a.netns) }

// state is what plugins keep in the node: its kernel state and the files
// in its directory (their /var/lib/cni and /run/flannel).
func (r *run) state() ([]string, error) {
	lines, err := kernel.Snapshot(r.node)
	if err != nil {
		return nil, err
	}
	err = filepath.WalkDir(r.nodeDir, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(r.nodeDir, p)
		lines = append(lines, "file "+rel)
		return nil
	})
	return lines, err
}

// listAt is the chain's list at another cniVersion.
func (r *run) listAt(v string) (*libcni.NetworkConfigList, error) {
	var m map[string]any
	if err := json.Unmarshal(r.conf, &m); err != nil {
		return nil, err
	}
	m["cniVersion"] = v
	delete(m, "cniVersions")
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return libcni.NetworkConfFromBytes(b)
}

func (r *run) progress(format string, args ...any) {
	if r.o.Progress != nil {
		fmt.Fprintf(r.o.Progress, format+"\n", args...)
	}
}
