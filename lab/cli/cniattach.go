package cli

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/urfave/cli/v3"

	"kinn.dev/kinn/lab"
	"kinn.dev/kinn/lab/daemon"
)

// podKeys are the POD arguments as namespace/name.
func podKeys(cmd *cli.Command) []string {
	var keys []string
	for _, a := range cmd.Args().Slice() {
		keys = append(keys, cmd.String("namespace")+"/"+a)
	}
	return keys
}

func runCNICheck(ctx context.Context, cmd *cli.Command) error {
	if err := needRoot("cni check"); err != nil {
		return err
	}
	o := options(cmd, cmd.Root().ErrWriter)
	name, err := lab.Pick(o, chosenLab(cmd))
	if err != nil {
		return err
	}
	res, err := lab.CheckCNI(ctx, o, name, podKeys(cmd))
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(cmd.Root().Writer, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "POD\tNODE\tCHECK")
	bad := 0
	for _, c := range res {
		verdict := "ok"
		if c.Err != nil {
			verdict, bad = c.Err.Error(), bad+1
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Pod, c.Node, verdict)
	}
	tw.Flush()
	if bad > 0 {
		return fmt.Errorf("%d of %d pods failed CNI CHECK", bad, len(res))
	}
	return nil
}

func runCNIReattach(ctx context.Context, cmd *cli.Command) error {
	if err := needRoot("cni reattach"); err != nil {
		return err
	}
	keys := podKeys(cmd)
	if len(keys) == 0 && !cmd.Bool("all") {
		return &ExitError{Code: 2, Err: errors.New("cni reattach: name the pods, or --all for every pod")}
	}
	if len(keys) > 0 && cmd.Bool("all") {
		return &ExitError{Code: 2, Err: errors.New("cni reattach: --all or pods, not both")}
	}
	o := options(cmd, cmd.Root().ErrWriter)
	name, err := lab.Pick(o, chosenLab(cmd))
	if err != nil {
		return err
	}
	// One lock until the lab process has the new addresses (endpoints,
	// rules): a down in between would leave it running for no lab.
	unlock, err := lab.Lock(o, name)
	if err != nil {
		return err
	}
	defer unlock()
	res, took, err := lab.ReattachLocked(ctx, o, name, keys)
	if err != nil {
		return err
	}
	if err := daemon.Ensure(ctx, o, name); err != nil {
		return err
	}
	w := cmd.Root().Writer
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "POD\tNODE\tBEFORE\tAFTER\tRESULT")
	changed, failed := 0, 0
	for _, r := range res {
		verdict := "same address"
		switch {
		case r.Err != nil:
			verdict, failed = r.Err.Error(), failed+1
		case r.Changed():
			verdict, changed = "address changed", changed+1
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Pod, r.Node, addrOrNone(r.Old), addrOrNone(r.New), verdict)
	}
	tw.Flush()
	fmt.Fprintf(w, "\n%d pods reattached in %.2fs: %d changed address, %d failed\n", len(res), took.Seconds(), changed, failed)
	if failed > 0 {
		return fmt.Errorf("%d of %d pods failed to reattach", failed, len(res))
	}
	return nil
}

func addrOrNone(p interface{ IsValid() bool }) string {
	if !p.IsValid() {
		return "<none>"
	}
	return fmt.Sprint(p)
}
