package cli

import (
	"context"
	"fmt"
	"slices"

	"github.com/urfave/cli/v3"

	"kinn.dev/kinn/lab"
)

// useCommand is kubectl's config use-context for labs: the lab the other
// verbs act on when neither --name nor KINN_LAB names one.
func useCommand() *cli.Command {
	return &cli.Command{
		Name:      "use",
		Usage:     "choose the lab the other commands act on without --name (kubectl's current context); without LAB, print it",
		ArgsUsage: "[LAB]",
		Description: "The choice is kept in the state root (--state-dir, file CURRENT), so it holds for every user of that root.\n" +
			"--name and KINN_LAB still win over it; kinn down of the lab forgets it.",
		Flags:  []cli.Flag{&cli.BoolFlag{Name: "none", Usage: "forget the choice: commands go back to the only lab that exists"}},
		Action: runUse,
	}
}

func runUse(ctx context.Context, cmd *cli.Command) error {
	o := options(cmd, nil)
	w := cmd.Root().Writer
	name := cmd.Args().First()
	switch {
	case cmd.Bool("none"):
		return lab.SetCurrent(o, "")
	case cmd.Args().Len() > 1:
		return &ExitError{Code: 1, Err: fmt.Errorf("use: one lab at most")}
	case name == "":
		cur, err := lab.Current(o)
		if err != nil {
			return err
		}
		if cur == "" {
			return &ExitError{Code: 1, Err: fmt.Errorf("no current lab: choose one with kinn use LAB")}
		}
		fmt.Fprintln(w, cur)
		return nil
	}
	if err := lab.CheckName(name); err != nil {
		return &ExitError{Code: 1, Err: err}
	}
	labs, err := lab.List(o)
	if err != nil {
		return err
	}
	if !slices.Contains(labs, name) {
		return &ExitError{Code: 1, Err: fmt.Errorf("use: no lab %q (labs: %v); bring it up first with kinn up --name %s", name, labs, name)}
	}
	if err := lab.SetCurrent(o, name); err != nil {
		return err
	}
	fmt.Fprintf(w, "Switched to lab %q.\n", name)
	return nil
}
