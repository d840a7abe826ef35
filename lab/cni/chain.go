package cni

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/version"

	"kinn.dev/kinn/lab/plan"
	"kinn.dev/kinn/topology"
)

// Chain is the user's own plugin chain: a network configuration list that
// may use containerd's template fields, and the directory of its plugins.
// Every node gets the list rendered with its own values, as containerd
// renders its conflist template with the node's pod CIDR.
type Chain struct {
	Where  string // what messages name: the .conflist file, or the inline block's FILE:LINE:COL
	BinDir string
	// Timeout bounds every call of a plugin binary: cni.timeout.
	Timeout time.Duration
	// PodSubnet and ServiceSubnet are the cluster's, for the template
	// fields of the same names and for flannel's subnet.env.
	PodSubnet, ServiceSubnet netip.Prefix
	tmpl                     *template.Template
}

// TemplateData are the fields a configuration may use. The first three are
// containerd's (its CNI config template); the others are what a plugin
// installer (flannel's, Calico's) writes into its conflist on a real node.
type TemplateData struct {
	PodCIDR       string   // the node's pod CIDR, e.g. 10.244.1.0/24
	PodCIDRRanges []string // the same, as a list
	Routes        []string // the default routes, 0.0.0.0/0
	NodeName      string   // e.g. kind-worker
	NodeIP        string   // the node's internal (underlay) address, e.g. 172.18.0.3
	PodSubnet     string   // the cluster's pod subnet, e.g. 10.244.0.0/16
	ServiceSubnet string   // the cluster's service subnet, e.g. 10.96.0.0/16
	Gateway       string   // the node's gateway for its pods, the pod CIDR's first address, e.g. 10.244.1.1
	MTU           int      // the pods' MTU (the underlay's less the overlay's overhead)
	// SubnetFile is the node's flannel subnet.env, as the host sees it
	// (plugins run by kinn see it at /run/flannel/subnet.env too).
	SubnetFile string
}

// Data is what the template of node n gets; nodeDir is the node's directory.
func (c *Chain) Data(n plan.Node, nodeDir string) TemplateData {
	cidr := n.PodCIDR.Masked().String()
	return TemplateData{
		PodCIDR: cidr, PodCIDRRanges: []string{cidr}, Routes: []string{"0.0.0.0/0"},
		NodeName: n.Name, NodeIP: addrString(n.Underlay.Addr()),
		PodSubnet: prefixString(c.PodSubnet), ServiceSubnet: prefixString(c.ServiceSubnet),
		Gateway: addrString(n.Gateway.Addr()), MTU: n.PodMTU,
		SubnetFile: SubnetFile(nodeDir),
	}
}

// addrString and prefixString are "" for what is not known (a node not yet
// planned), where String would say "invalid IP".
func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func prefixString(p netip.Prefix) string {
	if !p.IsValid() {
		return ""
	}
	return p.String()
}

// LoadChain reads the cni section's configuration list (a file, relative to
// the topology file, or inline JSON).
func LoadChain(c *topology.CNIConfig) (*Chain, error) {
	ch := &Chain{Where: fmt.Sprintf("%s (cni.confList)", c.ConfListPos), BinDir: abs(c.Dir, c.BinDir), Timeout: c.CallTimeout}
	text := c.ConfList
	if t := strings.TrimSpace(text); !strings.HasPrefix(t, "{") {
		path := abs(c.Dir, t)
		b, err := topology.ReadFile(context.Background(), path)
		if err != nil {
			return nil, fmt.Errorf("%s: cannot read the configuration list: %w", ch.Where, err)
		}
		ch.Where, text = path, string(b)
	}
	tmpl, err := template.New(ch.Where).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("%s: bad template: %w", ch.Where, err)
	}
	ch.tmpl = tmpl
	return ch, nil
}

func abs(dir, p string) string {
	if p == "" || filepath.IsAbs(p) || dir == "" {
		return p
	}
	return filepath.Join(dir, p)
}

// Render is the configuration list for node n, whose directory is nodeDir.
// Where a plugin's IPAM is host-local without a dataDir, the node's own
// directory is filled in: on a real node host-local keeps its reservations
// in /var/lib/cni/networks, and kinn's nodes share one filesystem, the
// host's, which kinn does not touch.
func (c *Chain) Render(n plan.Node, nodeDir string) ([]byte, error) {
	var buf bytes.Buffer
	if err := c.tmpl.Execute(&buf, c.Data(n, nodeDir)); err != nil {
		return nil, fmt.Errorf("%s: template: %w", c.Where, err)
	}
	var list map[string]any
	if err := json.Unmarshal(buf.Bytes(), &list); err != nil {
		return nil, fmt.Errorf("%s: does not parse as JSON: %w", c.Where, err)
	}
	fillDataDir(list, NetworksDir(nodeDir))
	return json.Marshal(list)
}

// Name is the list's network name, "" when it cannot be rendered.
func (c *Chain) Name() string {
	var buf bytes.Buffer
	if c.tmpl.Execute(&buf, c.Data(plan.Node{}, "")) != nil {
		return ""
	}
	var list struct {
		Name string `json:"name"`
	}
	json.Unmarshal(buf.Bytes(), &list)
	return list.Name
}

// fillDataDir gives every host-local IPAM section without a dataDir the
// node's, wherever it is nested (a meta plugin's delegate has its own).
func fillDataDir(v any, dataDir string) {
	switch v := v.(type) {
	case map[string]any:
		if ipam, ok := v["ipam"].(map[string]any); ok && ipam["type"] == "host-local" && ipam["dataDir"] == nil {
			ipam["dataDir"] = dataDir
		}
		for _, x := range v {
			fillDataDir(x, dataDir)
		}
	case []any:
		for _, x := range v {
			fillDataDir(x, dataDir)
		}
	}
}

// Check finds what would make every ADD fail, before anything is created:
// a list that does not parse, a plugin with no binary, a cniVersion a
// plugin does not speak. Plugins are asked only VERSION, which touches
// nothing.
func (c *Chain) Check(ctx context.Context, n plan.Node) error {
	b, err := c.Render(n, "/nonexistent")
	if err != nil {
		return err
	}
	list, err := libcni.NetworkConfFromBytes(b)
	if err != nil {
		return fmt.Errorf("%s: %w", c.Where, err)
	}
	if len(list.Plugins) == 0 {
		return fmt.Errorf("%s: the list has no plugins", c.Where)
	}
	var errs []error
	exec := &versionExec{timeout: c.Timeout}
	for _, p := range list.Plugins {
		typ := p.Network.Type
		if typ == "" {
			errs = append(errs, fmt.Errorf("%s: a plugin has no type", c.Where))
			continue
		}
		path, err := exec.FindInPath(typ, []string{c.BinDir})
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: plugin %q: no executable %s in binDir %s: build it there or fix cni.binDir", c.Where, typ, typ, c.BinDir))
			continue
		}
		info, err := invoke.GetVersionInfo(ctx, path, exec)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: plugin %q (%s) does not answer VERSION: %w", c.Where, typ, path, err))
			continue
		}
		if !slices.Contains(info.SupportedVersions(), list.CNIVersion) {
			errs = append(errs, fmt.Errorf("%s: plugin %q speaks CNI %s, not the list's cniVersion %q: change cniVersion",
				c.Where, typ, strings.Join(info.SupportedVersions(), ", "), list.CNIVersion))
		}
	}
	return errors.Join(errs...)
}

// versionExec runs plugins in kinn's own namespaces for VERSION only: the
// question needs no node, and no other command may run outside one.
type versionExec struct {
	timeout time.Duration // 0 for the default
	version.PluginDecoder
}

func (e *versionExec) FindInPath(plugin string, paths []string) (string, error) {
	if p, err := invoke.FindInPath(plugin, paths); err == nil || plugin != PluginType {
		return p, err
	}
	return builtinPath, nil
}

func (e *versionExec) ExecPlugin(ctx context.Context, path string, stdin []byte, environ []string) ([]byte, error) {
	for _, kv := range environ {
		if kv != "CNI_COMMAND=VERSION" && strings.HasPrefix(kv, "CNI_COMMAND=") {
			return nil, fmt.Errorf("refusing %s outside a node", kv)
		}
	}
	if path == builtinPath {
		return runBuiltin(stdin, environ)
	}
	timeout := cmp.Or(e.timeout, topology.DefaultCNITimeout)
	r := execBinary(ctx, startHere, path, stdin, environ, timeout)
	if err := r.error(filepath.Base(path), timeout); err != nil {
		return nil, err
	}
	return r.Stdout, nil
}
