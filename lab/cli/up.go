package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/urfave/cli/v3"

	"kinn.dev/kinn/lab"
	"kinn.dev/kinn/lab/daemon"
	"kinn.dev/kinn/lab/plan"
	"kinn.dev/kinn/topology"
)

func upCommand() *cli.Command {
	return &cli.Command{
		Name:      "up",
		Usage:     "create a lab, or converge it to its topology file",
		ArgsUsage: " ",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "file", Aliases: []string{"f"}, Usage: "topology file (default: the built-in one, examples/default.yaml)"},
			nameFlag(),
			&cli.BoolFlag{Name: "tui", Usage: "open the terminal UI once the lab is up"},
		},
		Action: runUp,
	}
}

func runUp(ctx context.Context, cmd *cli.Command) error {
	stderr := cmd.Root().ErrWriter
	src, warnings, err := readTopology(ctx, cmd.String("file"))
	for _, w := range warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	if err != nil {
		return err
	}
	if n := cmd.String("name"); n != "" {
		src.Lab.Name = n
	}
	if err := needRoot("up"); err != nil {
		return err
	}
	o := options(cmd, stderr)
	fmt.Fprintf(stderr, "Bringing up lab %q from %s\n", src.Lab.Name, src.Path)
	res, err := lab.Up(ctx, o, src)
	var bad *lab.ConfigError
	if errors.As(err, &bad) {
		return &ExitError{Code: 2, Err: err} // nothing was created
	}
	if err != nil {
		// What did come up (pods attach one by one) still gets its servers
		// and rules.
		daemon.Ensure(ctx, o, src.Lab.Name)
		return fmt.Errorf("up %s: %w (run `kinn up` again to converge, or `kinn down --name %s`)", src.Lab.Name, err, src.Lab.Name)
	}
	if err := daemon.Ensure(ctx, o, src.Lab.Name); err != nil {
		return fmt.Errorf("up %s: %w", src.Lab.Name, err)
	}
	if cmd.Bool("tui") {
		return openTUI(ctx, cmd, o, src.Lab.Name)
	}
	printSummary(cmd.Root().Writer, res)
	return nil
}

func readTopology(ctx context.Context, path string) (lab.Source, []topology.Warning, error) {
	if path == "" {
		t, w, err := topology.Default()
		return lab.Source{Lab: t, Raw: topology.DefaultYAML(), Path: "<default>"}, w, err
	}
	raw, err := topology.ReadFile(ctx, path)
	if err != nil {
		return lab.Source{}, nil, &ExitError{Code: 2, Err: fmt.Errorf("read topology: %w", err)}
	}
	t, w, err := topology.Parse(path, raw)
	return lab.Source{Lab: t, Raw: raw, Path: path}, w, err
}

func printSummary(w io.Writer, res *lab.Result) {
	p := res.Plan
	pods := map[string]int{}
	for _, pod := range p.Pods {
		pods[pod.Node]++
	}
	fmt.Fprintf(w, "Lab %q is up: %d nodes, %d pods (%d kernel changes, %d pods attached, %d namespaces removed) in %.2fs\n\n",
		p.Name, len(p.Nodes), len(p.Pods), res.Changes, res.Attached, res.Removed, res.Took.Seconds())
	if len(res.Repairs) > 0 {
		fmt.Fprintf(w, "Found and fixed %d differences from the lab's desired state:\n", len(res.Repairs))
		for _, r := range res.Repairs {
			fmt.Fprintf(w, "  - %s\n", r)
		}
		fmt.Fprintln(w)
	}
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "NODE\tINTERNAL-IP\tPOD-CIDR\tPODS")
	for _, n := range p.Nodes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", n.Name, n.Underlay.Addr(), n.PodCIDR, pods[n.Name])
	}
	tw.Flush()
	fmt.Fprintf(w, "\nTry:\n")
	name := ""
	if p.Name != "kinn" {
		name = " --name " + p.Name
	}
	fmt.Fprintf(w, "  kinn get pods -o wide%s\n", name)
	var ok []plan.Pod
	for _, pod := range p.Pods {
		if pod.Attached() {
			ok = append(ok, pod)
		}
	}
	if len(ok) > 1 {
		a, b := ok[0], ok[len(ok)-1]
		fmt.Fprintf(w, "  kinn exec%s -n %s %s -- ping -c 3 %s\n", name, a.Namespace, a.Name, b.IP.Addr())
	}
	if len(p.Nodes) > 0 {
		fmt.Fprintf(w, "  kinn exec%s node/%s -- ip route\n", name, p.Nodes[0].Name)
	}
	fmt.Fprintf(w, "  kinn down%s\n", name)
}
