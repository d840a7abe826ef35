package cli

import (
	"context"
	"runtime/debug"

	"github.com/urfave/cli/v3"

	"kinn.dev/kinn/lab"
	"kinn.dev/kinn/tui"
)

func tuiCommand() *cli.Command {
	return &cli.Command{
		Name:  "tui",
		Usage: "a live terminal view of the lab: topology, traffic, flows and rules",
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if err := needRoot("tui"); err != nil {
				return err
			}
			o := options(cmd, nil)
			name, err := lab.Pick(o, chosenLab(cmd))
			if err != nil {
				return err
			}
			return openTUI(ctx, cmd, o, name)
		},
	}
}

func openTUI(ctx context.Context, cmd *cli.Command, o lab.Options, name string) error {
	if _, err := lab.Load(o, name); err != nil {
		return err
	}
	// The UI allocates a lab's worth of rows every second: collect garbage
	// less often, within a ceiling well under the 150 MB it may use.
	debug.SetGCPercent(400)
	debug.SetMemoryLimit(120 << 20)
	r := cmd.Root()
	src := tui.NewLive(o, name)
	defer src.Close()
	return tui.Run(ctx, src, tui.Options{Lab: name, Input: r.Reader, Output: r.Writer})
}
