package cli

import (
	"context"

	"github.com/urfave/cli/v3"

	"kinn.dev/kinn/lab/daemon"
)

// labProcessCommand runs the lab process; `kinn up` starts it, nobody else.
func labProcessCommand() *cli.Command {
	return &cli.Command{
		Name:   daemon.Command,
		Usage:  "run a lab's background process (started by kinn up)",
		Hidden: true,
		Flags:  []cli.Flag{nameFlag()},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if err := needRoot(daemon.Command); err != nil {
				return err
			}
			return daemon.Run(ctx, options(cmd, nil), cmd.String("name"))
		},
	}
}
