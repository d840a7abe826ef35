package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v3"

	"kinn.dev/kinn/lab"
	"kinn.dev/kinn/lab/cni"
)

func cniCommand() *cli.Command {
	return &cli.Command{
		Name:  "cni",
		Usage: "the lab's CNI calls",
		Commands: []*cli.Command{{
			Name:      "log",
			Usage:     "every CNI call the lab made, newest first",
			ArgsUsage: "[POD]",
			Flags: []cli.Flag{namespaceFlag(),
				&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "json for every call in full"}},
			Action: runCNILog,
		}, {
			Name:      "check",
			Usage:     "CNI CHECK: ask the plugins whether pods are as their ADD left them",
			ArgsUsage: "[POD...]",
			Flags:     []cli.Flag{namespaceFlag()},
			Action:    runCNICheck,
		}, {
			Name:      "reattach",
			Usage:     "CNI DEL then ADD with the plugins as they are now, keeping pods and their workloads",
			ArgsUsage: "[--all | POD...]",
			Flags: []cli.Flag{namespaceFlag(),
				&cli.BoolFlag{Name: "all", Usage: "every pod of the lab"}},
			Action: runCNIReattach,
		}, conformanceCommand()},
	}
}

func runCNILog(_ context.Context, cmd *cli.Command) error {
	o := options(cmd, nil)
	name, err := lab.Pick(o, chosenLab(cmd))
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
	return printCalls(w, calls)
}

// printCalls is the log as a table, a row a call, with what a plugin
// printed besides its result under its row, line by line: a panic's stack
// reads as the stack it is. -o json keeps the same as data.
func printCalls(w io.Writer, calls []cni.Call) error {
	var table bytes.Buffer
	tw := tabwriter.NewWriter(&table, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tCOMMAND\tPOD\tNODE\tPLUGIN\tTOOK\tEXIT\tRESULT")
	for _, c := range calls {
		exit := strconv.Itoa(c.ExitStatus)
		if c.Signal != "" {
			exit = c.Signal
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%.1fms\t%s\t%s\n", c.Time.Format("15:04:05.000"), c.Command, cell(c.Pod), c.Node,
			cell(c.Plugin), c.DurationMS, exit, cell(c.Outcome()))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	rows := strings.SplitAfter(table.String(), "\n")
	fmt.Fprint(w, rows[0])
	for i, c := range calls {
		fmt.Fprint(w, rows[i+1])
		printOutput(w, "stdout, not JSON", c.Stdout)
		printOutput(w, "stderr", c.Stderr)
	}
	return nil
}

// cell keeps a table cell on its row.
func cell(s string) string { return strings.Join(strings.Fields(s), " ") }

// printOutput prints a plugin's output under its call, indented.
func printOutput(w io.Writer, what, out string) {
	if strings.TrimSpace(out) == "" {
		return
	}
	fmt.Fprintf(w, "    %s:\n", what)
	for _, l := range strings.Split(strings.TrimRight(cni.Printable(out), "\n"), "\n") {
		fmt.Fprintln(w, strings.TrimRight("      "+strings.ReplaceAll(l, "\t", "    "), " "))
	}
}
