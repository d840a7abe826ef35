package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v3"

	"kinn.dev/kinn/lab"
)

func cniCommand() *cli.Command {
	return &cli.Command{
		Name:  "cni",
		Usage: "the lab's CNI calls",
		Commands: []*cli.Command{{
			Name:      "log",
			Usage:     "every CNI call the lab made, newest first",
			ArgsUsage: "[POD]",
			Flags: []cli.Flag{nameFlag(), namespaceFlag(),
				&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "json for every call in full"}},
			Action: runCNILog,
		}, {
			Name:      "check",
			Usage:     "CNI CHECK: ask the plugins whether pods are as their ADD left them",
			ArgsUsage: "[POD...]",
			Flags:     []cli.Flag{nameFlag(), namespaceFlag()},
			Action:    runCNICheck,
		}, {
			Name:      "reattach",
			Usage:     "CNI DEL then ADD with the plugins as they are now, keeping pods and their workloads",
			ArgsUsage: "[--all | POD...]",
			Flags: []cli.Flag{nameFlag(), namespaceFlag(),
				&cli.BoolFlag{Name: "all", Usage: "every pod of the lab"}},
			Action: runCNIReattach,
		}, conformanceCommand()},
	}
}

func runCNILog(_ context.Context, cmd *cli.Command) error {
	o := options(cmd, nil)
	name, err := lab.Pick(o, cmd.String("name"))
	if err != nil {
		return err
	}
	calls, err := lab.CNICalls(o, name)
	if err != nil {
		return err
	}
	if pod := cmd.Args().First(); pod != "" {
		key := cmd.String("namespace") + "/" + pod
		var keep = calls[:0]
		for _, c := range calls {
			if c.Pod == key {
				keep = append(keep, c)
			}
		}
		calls = keep
	}
	w := cmd.Root().Writer
	if cmd.String("output") == "json" {
		return encode(w, "json", calls)
	}
	if len(calls) == 0 {
		fmt.Fprintln(w, "No CNI calls recorded.")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tCOMMAND\tPOD\tNODE\tPLUGIN\tTOOK\tRESULT")
	for _, c := range calls {
		res := "ok"
		if c.Error != nil {
			res = fmt.Sprintf("error %d: %s", c.Error.Code, strings.TrimSpace(c.Error.Msg+" "+c.Error.Details))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%.1fms\t%s\n", c.Time.Format("15:04:05.000"), c.Command, c.Pod, c.Node, c.Plugin, c.DurationMS, res)
	}
	return tw.Flush()
}
