package cli

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v3"

	"kinn.dev/kinn/lab"
	"kinn.dev/kinn/lab/daemon"
)

func downCommand() *cli.Command {
	return &cli.Command{
		Name:  "down",
		Usage: "remove a lab and everything it created",
		Flags: []cli.Flag{
			nameFlag(),
			&cli.BoolFlag{Name: "all", Usage: "remove every lab"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if err := needRoot("down"); err != nil {
				return err
			}
			o := options(cmd, cmd.Root().ErrWriter)
			var names []string
			if cmd.Bool("all") {
				all, err := lab.List(o)
				if err != nil {
					return err
				}
				names = all
			} else {
				n, err := lab.Pick(o, cmd.String("name"))
				if err != nil {
					return err
				}
				names = []string{n}
			}
			for _, n := range names {
				// Before stopping anything: the lab process of a lab
				// recorded elsewhere is not this one's to stop.
				if err := lab.CheckOwner(o, n); err != nil {
					return fmt.Errorf("down %s: %w", n, err)
				}
				daemon.Stop(o, n) // first: it would repair what down removes
				if err := lab.Down(ctx, o, n); err != nil {
					return fmt.Errorf("down %s: %w", n, err)
				}
				fmt.Fprintf(cmd.Root().ErrWriter, "Lab %q is down\n", n)
			}
			return nil
		},
	}
}
