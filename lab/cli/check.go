package cli

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"text/tabwriter"

	"github.com/urfave/cli/v3"

	"kinn.dev/kinn/lab"
	"kinn.dev/kinn/lab/check"
	"kinn.dev/kinn/lab/daemon"
	"kinn.dev/kinn/lab/kernel"
	"kinn.dev/kinn/lab/plan"
	"kinn.dev/kinn/lab/service"
)

func checkCommand() *cli.Command {
	return &cli.Command{
		Name:  "check",
		Usage: "every pod to every pod, every pod to every service by address and by name, every node and the outside to every NodePort",
		Flags: []cli.Flag{&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "json, or wide to list passing cells too"}},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			s, err := openLab(cmd, "check")
			if err != nil {
				return err
			}
			st := s.st
			status, err := daemon.NewClient(s.o, s.name).Status(ctx)
			if err != nil {
				return fmt.Errorf("check needs the lab process: %w", err)
			}
			// What the Services are meant to have: a Service whose pods
			// failed must not pass for one refused by its definition.
			ports := service.Ports(st.Services, st.Topology.EndpointSlices, st.IntendedPodStates(status.Readiness()))
			cells := check.Plan(check.FromPlan(check.Input{Plan: st.Plan, Ports: ports, DNS: st.ClusterDNS(),
				Domain: st.Topology.Networking.DNSDomain, Live: lab.Live,
				NodePortIPs: func(n plan.Node) []netip.Addr { return st.ProxyNode(n).NodePortIPs() }}))
			check.Run(ctx, kernel.Do, cells)
			sum := check.Summarize(cells)
			w := cmd.Root().Writer
			if cmd.String("output") == "json" {
				if err := encode(w, "json", map[string]any{"cells": cells, "summary": sum}); err != nil {
					return err
				}
			} else {
				printCells(w, cells, cmd.String("output") == "wide")
				fmt.Fprintln(w, sum)
			}
			if sum.Failed > 0 {
				return &ExitError{Code: 1}
			}
			return nil
		},
	}
}

// printCells lists the cells; by default passing cells expected to pass
// are summed up per kind rather than listed, so failures stand out.
func printCells(w io.Writer, cells []check.Cell, all bool) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	header := false
	for _, c := range cells {
		if !all && c.Passed && c.Expect == check.Pass {
			continue
		}
		if !header {
			fmt.Fprintln(tw, "\tFROM\tTO\tPROTO\tADDRESS\tEXPECT\tRESULT\tDETAIL")
			header = true
		}
		mark := "✓"
		if !c.Passed {
			mark = "✗"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", mark, c.From, c.To, c.Proto, c.Addr, c.Expect, c.Result, c.Detail)
	}
	tw.Flush()
}
