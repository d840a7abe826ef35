package cli

import (
	"context"

	"github.com/urfave/cli/v3"

	"kinn.dev/kinn/lab/daemon"
	"kinn.dev/kinn/lab/kernel"
)

// labProcessCommand runs the lab process; `kinn up` starts it, nobody else.
func labProcessCommand() *cli.Command {
	return &cli.Command{
		Name:   daemon.Command,
		Usage:  "run a lab's background process (started by kinn up)",
		Hidden: true,
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if err := needRoot(daemon.Command); err != nil {
				return err
			}
			return daemon.Run(ctx, options(cmd, nil), cmd.String("name"))
		},
	}
}

// podViewCommand is the first step of every command run in a pod: started
// by kinn in fresh mount and UTS namespaces, it shows the pod's files and
// hostname, then becomes the command; or, for a kinn.dev/run program
// (--confine), starts it confined and waits for it as its PID namespace's
// init, and exits with its status.
func podViewCommand() *cli.Command {
	return &cli.Command{
		Name:   kernel.PodViewVerb,
		Usage:  "run a command with a pod's hostname, resolv.conf and hosts (used by kinn exec and the lab process)",
		Hidden: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "resolv"}, &cli.StringFlag{Name: "hosts"}, &cli.StringFlag{Name: "hostname"},
			&cli.StringFlag{Name: "confine"},
		},
		Action: func(_ context.Context, cmd *cli.Command) error {
			v := kernel.PodView{ResolvConf: cmd.String("resolv"), Hosts: cmd.String("hosts"), Hostname: cmd.String("hostname")}
			if s := cmd.String("confine"); s != "" {
				c, err := kernel.ParseConfinement(s)
				if err != nil {
					return &ExitError{Code: 127, Err: err}
				}
				v.Confine = c
			}
			code, err := v.Enter(cmd.Args().Slice())
			if err != nil || code != 0 {
				return &ExitError{Code: code, Err: err}
			}
			return nil
		},
	}
}
