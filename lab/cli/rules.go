package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v3"

	"kinn.dev/kinn/lab"
)

func rulesCommand() *cli.Command {
	return &cli.Command{
		Name:      "rules",
		Usage:     "a node's service proxy rules with live counters, its routes and overlay entries, and what each fixed chain and map of its table is for",
		ArgsUsage: "[NODE]",
		Flags:     []cli.Flag{&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "json, or nft for the raw ruleset"}},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			s, err := openLab(cmd, "rules")
			if err != nil {
				return err
			}
			st := s.st
			node := cmd.Args().First()
			if node == "" && len(st.Plan.Nodes) > 0 {
				node = st.Plan.Nodes[len(st.Plan.Nodes)-1].Name
			}
			status := liveStatus(ctx, cmd, s.o, s.name)
			if status == nil {
				fmt.Fprintf(cmd.Root().ErrWriter, "warning: the lab process did not answer: no pod counts as ready, so the table is compared with one without endpoints\n")
			}
			ports := st.ServicePorts(status.Readiness())
			v, err := st.Rules(ctx, node, ports)
			if err != nil {
				return &ExitError{Code: 1, Err: err}
			}
			out := cmd.String("output")
			if out == "json" || out == "nft" {
				if v.Ruleset, err = st.RulesetText(node, ports); err != nil {
					return err
				}
			}
			w := cmd.Root().Writer
			switch out {
			case "json":
				return encode(w, "json", v)
			case "nft":
				_, err := fmt.Fprint(w, v.Ruleset)
				return err
			}
			printRules(w, v)
			return nil
		},
	}
}

func printRules(w io.Writer, v *lab.RulesView) {
	fmt.Fprintf(w, "Node %s  %s  pods %s\n", v.Node, v.IP, v.PodCIDR)
	if len(v.Drift) > 0 {
		fmt.Fprintln(w, "\nDRIFT  (the kernel's table differs from what kinn wants; the lab process or `kinn up` puts it back)")
		for _, d := range v.Drift {
			fmt.Fprintf(w, "  %s  %s\n", d.State, d.Summary)
		}
	}
	fmt.Fprintln(w, "\nSERVICES  (nftables table ip kinn; NAT chains see the first packet of each connection,\n          so a counter is the connections through that chain since it was last written)")
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	for _, f := range v.Services {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t-> %s\t%d conns\t%s\n", f.Frontend, f.Kind, f.Service, f.Chain, f.Packets, driftNote(f.Drift, f.Note))
		for _, e := range f.Endpoints {
			use := "  "
			if e.Used {
				use = "=>"
			}
			fmt.Fprintf(tw, "    %s %s\t%s\t%s on %s\t-> %s\t%d conns\t%s\n", use, e.Addr, e.State, e.Pod, e.Node, e.Chain, e.Packets, driftNote(e.Drift, ""))
		}
	}
	tw.Flush()
	for _, sec := range []struct {
		title string
		rows  []lab.EntryView
	}{{"ROUTES", v.Routes}, {"NEIGHBOURS (VTEPs)", v.Neigh}, {"FDB (where each VTEP lives)", v.FDB}} {
		fmt.Fprintf(w, "\n%s\n", sec.title)
		tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
		for _, r := range sec.rows {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", r.Entry, r.Note, r.State)
		}
		tw.Flush()
	}
	printTableObjects(w, v.Table)
}

// printTableObjects explains the table's fixed machinery, each object on one
// line (name, kind, hook, counter or size) with its meaning and kube-proxy's
// name for it wrapped under it, so that the whole fits 100 columns.
func printTableObjects(w io.Writer, objs []lab.TableObjectView) {
	if len(objs) == 0 {
		return
	}
	fmt.Fprintln(w, "\nTABLE ip kinn  (its fixed chains, sets and maps in the order a packet meets them, then the\n"+
		"               per-Service ones; pkts: packets through a chain, of which nat-* and the chains\n"+
		"               they lead to see a connection's first only; `kinn rules -o nft` prints the rules)")
	nameW, hookW := 0, 0
	for _, o := range objs {
		nameW, hookW = max(nameW, len(o.Name)), max(hookW, len(o.Hook))
	}
	for _, o := range objs {
		line := fmt.Sprintf("  %-*s  %-5s  %-*s  %s", nameW, o.Name, o.Kind, hookW, o.Hook, tableFigure(o))
		fmt.Fprintln(w, strings.TrimRight(line, " "))
		meaning := o.Meaning
		if o.KubeProxy != "" {
			meaning += " (kube-proxy: " + o.KubeProxy + ")"
		}
		for _, l := range wrap(meaning, 90) {
			fmt.Fprintln(w, "      "+l)
		}
	}
}

// tableFigure is what the kernel says of an object: a chain's counter, a
// set's or map's size, a family's number of members.
func tableFigure(o lab.TableObjectView) string {
	switch {
	case o.Count != nil:
		return plural(*o.Count, o.Kind)
	case o.Packets != nil:
		return fmt.Sprintf("%d pkts", *o.Packets)
	case o.Elements != nil:
		return plural(*o.Elements, "element")
	}
	return ""
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// wrap breaks text into lines of at most width characters, at spaces.
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		if line != "" && len(line)+1+len(word) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

// driftNote puts a line's drift (MISSING in the kernel, ...) before its note.
func driftNote(drift, note string) string {
	if drift == "" {
		return note
	}
	return strings.TrimSpace(drift + " in the kernel  " + note)
}
