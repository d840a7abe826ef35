package cli

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v3"

	"kinn.dev/kinn/lab"
	"kinn.dev/kinn/lab/cni"
	"kinn.dev/kinn/lab/cni/conformance"
	"kinn.dev/kinn/lab/plan"
	"kinn.dev/kinn/topology"
)

func conformanceCommand() *cli.Command {
	return &cli.Command{
		Name:  "conformance",
		Usage: "run a plugin chain through the CNI spec's runtime scenarios in throwaway namespaces; pass/fail per clause",
		Description: "With -f, the configuration list in the file (containerd's template fields allowed) and the plugins in --bin-dir;\n" +
			"else the chain the lab named by --name was brought up with (kinn's own plugin when it has none), with one of its\n" +
			"nodes' values. Nothing of any lab is touched: the run makes its own node and container namespaces and removes them.",
		Flags: []cli.Flag{&cli.StringFlag{Name: "file", Aliases: []string{"f"}, Usage: "a .conflist to judge instead of a lab's chain"},
			&cli.StringFlag{Name: "bin-dir", Usage: "the plugins of -f's list"},
			&cli.StringFlag{Name: "pod-cidr", Value: "10.244.0.0/24", Usage: "{{.PodCIDR}} for -f's list"},
			&cli.DurationFlag{Name: "timeout", Value: 10 * time.Second, Usage: "how long one plugin call may take before it is killed"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "text", Usage: "text or json"}},
		Action: runCNIConformance,
	}
}

func runCNIConformance(ctx context.Context, cmd *cli.Command) error {
	format := cmd.String("output")
	if format != "text" && format != "json" {
		return &ExitError{Code: 2, Err: fmt.Errorf("cni conformance: -o %s: text or json", format)}
	}
	if err := needRoot("cni conformance"); err != nil {
		return err
	}
	o, err := conformanceOptions(cmd)
	if err != nil {
		return err
	}
	if o.Timeout == 0 || cmd.IsSet("timeout") {
		o.Timeout = cmd.Duration("timeout")
	}
	o.Progress = cmd.Root().ErrWriter
	rep, err := conformance.Run(ctx, o)
	if rep == nil {
		return err
	}
	w := cmd.Root().Writer
	if format == "json" {
		if perr := encode(w, "json", rep); perr != nil {
			return perr
		}
	} else {
		printConformance(w, rep)
	}
	if err != nil {
		return err
	}
	if n := rep.Failed(); n > 0 {
		return &ExitError{Code: 1, Err: fmt.Errorf("%d of %d clauses failed", n, len(rep.Clauses))}
	}
	return nil
}

// conformanceOptions picks the chain: -f's file, or the lab's.
func conformanceOptions(cmd *cli.Command) (conformance.Options, error) {
	var o conformance.Options
	if f := cmd.String("file"); f != "" {
		if cmd.String("bin-dir") == "" || cmd.String("name") != "" {
			return o, &ExitError{Code: 2, Err: errors.New("cni conformance: -f needs --bin-dir, and no --name")}
		}
		cidr, err := netip.ParsePrefix(cmd.String("pod-cidr"))
		if err != nil || !cidr.Addr().Is4() {
			return o, &ExitError{Code: 2, Err: fmt.Errorf("cni conformance: --pod-cidr %q: an IPv4 CIDR", cmd.String("pod-cidr"))}
		}
		path, _ := filepath.Abs(f)
		bin, _ := filepath.Abs(cmd.String("bin-dir"))
		chain, err := cni.LoadChain(&topology.CNIConfig{ConfList: path, BinDir: bin})
		if err != nil {
			return o, err
		}
		cidr = cidr.Masked()
		node := plan.Node{Name: "conformance", PodCIDR: cidr, Gateway: netip.PrefixFrom(cidr.Addr().Next(), cidr.Bits()), PodMTU: 1500}
		return chainOptions(chain, node), nil
	}
	lo := options(cmd, nil)
	name, err := lab.Pick(lo, chosenLab(cmd))
	if err != nil {
		return o, err
	}
	st, err := lab.Load(lo, name)
	if err != nil {
		return o, err
	}
	if len(st.Plan.Nodes) == 0 {
		return o, fmt.Errorf("lab %s has no nodes", name)
	}
	node := st.Plan.Nodes[0]
	if st.Topology.CNI == nil {
		self, err := os.Executable()
		if err != nil {
			return o, err
		}
		return conformance.Options{Self: self, Node: node,
			ConfList: func(string) ([]byte, error) { return cni.ConfList(node), nil }}, nil
	}
	chain, err := lab.LoadChain(st.Topology)
	if err != nil {
		return o, err
	}
	o = chainOptions(chain, node)
	o.PodSubnet = st.Topology.Networking.PodSubnet
	o.Timeout = chain.Timeout // the lab's cni.timeout, when it sets one

	return o, nil
}

func chainOptions(chain *cni.Chain, node plan.Node) conformance.Options {
	return conformance.Options{BinDir: chain.BinDir, Node: node,
		ConfList: func(nodeDir string) ([]byte, error) { return chain.Render(node, nodeDir) }}
}

func printConformance(w interface{ Write([]byte) (int, error) }, rep *conformance.Report) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "CLAUSE\tRESULT\tSPEC\tDETAIL")
	count := map[conformance.Verdict]int{}
	for _, c := range rep.Clauses {
		count[c.Verdict]++
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Name, c.Verdict, c.Spec, c.Reason)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nnetwork %s (%s) at cniVersion %s: %d passed, %d failed, %d warnings, %d skipped in %.2fs (run %s)\n",
		rep.Network, strings.Join(rep.Plugins, ", "), strings.Join(rep.Versions, ", "),
		count[conformance.Pass], count[conformance.Fail], count[conformance.Warn], count[conformance.Skip], rep.DurationMS/1000, rep.ID)
}
