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
		Flags: []cli.Flag{&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "json, or wide: as -v"},
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "every node pair and every cell, the passing ones too"}},
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
				all := cmd.Bool("verbose") || cmd.String("output") == "wide"
				if sum.Failed > 0 || all {
					printCheckSummary(w, sum, all)
				}
				printCells(w, cells, all)
				fmt.Fprintln(w, sum)
			}
			if sum.Failed > 0 {
				return &ExitError{Code: 1}
			}
			return nil
		},
	}
}

// printCheckSummary says where the cells fail before the rows do: by source
// node and destination (the failing pairs, or all of them), then by kind.
func printCheckSummary(w io.Writer, sum check.Summary, all bool) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "By source node -> destination:")
	fine, fineCells := 0, 0
	for _, p := range sum.ByNodes {
		if p.Failed == 0 && !all {
			fine, fineCells = fine+1, fineCells+p.Passed
			continue
		}
		fmt.Fprintf(tw, "  %s -> %s:\t%s\n", p.From, p.To, p.Tally)
	}
	if fine > 0 {
		fmt.Fprintf(tw, "  %d other pairs:\t%d ok, 0 failed\n", fine, fineCells)
	}
	fmt.Fprintln(tw, "By kind:")
	for _, k := range sum.ByKind {
		fmt.Fprintf(tw, "  %s:\t%s\n", k.Kind, k.Tally)
	}
	tw.Flush()
	fmt.Fprintln(w)
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
