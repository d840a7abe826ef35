package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/urfave/cli/v3"

	"kinn.dev/kinn/lab"
	"kinn.dev/kinn/lab/daemon"
)

func downCommand() *cli.Command {
	return &cli.Command{
		Name:  "down",
		Usage: "remove a lab and everything it created",
		Flags: []cli.Flag{
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
				n, err := lab.Pick(o, chosenLab(cmd))
				if err != nil {
					return err
				}
				names = []string{n}
			}
			for _, n := range names {
				if err := down(ctx, o, n, cmd.Root().ErrWriter); err != nil {
					return err
				}
				if err := lab.ForgetCurrent(o, n); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

// down removes one lab, holding its lock from stopping the lab process to
// the removal of its directories, so that no up can come in between and
// leave a lab process behind for a lab that no longer exists.
func down(ctx context.Context, o lab.Options, name string, w io.Writer) error {
	exists, err := lab.Exists(o, name)
	if err != nil {
		return err
	}
	if !exists && len(daemon.Find(o, name)) == 0 {
		fmt.Fprintf(w, "Lab %q does not exist: nothing to remove\n", name)
		return nil
	}
	unlock, err := lab.Lock(o, name)
	if err != nil {
		return err
	}
	defer unlock()
	// Before stopping anything: the lab process of a lab recorded in
	// another state directory is not this one's to stop.
	if err := lab.CheckOwner(o, name); err != nil {
		return fmt.Errorf("down %s: %w", name, err)
	}
	daemon.Stop(o, name) // first: it would repair what down removes
	if err := lab.DownLocked(ctx, o, name); err != nil {
		return fmt.Errorf("down %s: %w", name, err)
	}
	fmt.Fprintf(w, "Lab %q is down\n", name)
	return nil
}
