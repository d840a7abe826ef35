package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/urfave/cli/v3"

	"kinn.dev/kinn/lab"
	"kinn.dev/kinn/lab/daemon"
	"kinn.dev/kinn/topology"
)

// The live-change verbs: each edits the lab's recorded topology through
// lab.Edit (all or nothing), converges the network, and has the lab process
// re-sync servers, endpoints and proxy rules before it returns.

func applyCommand() *cli.Command {
	return &cli.Command{
		Name:  "apply",
		Usage: "create or replace objects in a running lab from a file",
		Flags: []cli.Flag{&cli.StringFlag{Name: "file", Aliases: []string{"f"}, Required: true, Usage: "YAML file of Kubernetes objects"}},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			f := cmd.String("file")
			applied, err := topology.ReadFile(ctx, f)
			if err != nil {
				return &ExitError{Code: 2, Err: fmt.Errorf("read %s: %w", f, err)}
			}
			return edit(ctx, cmd, "apply", func(raw []byte, file string) ([]byte, error) {
				return topology.Apply(raw, file, applied, f)
			})
		},
	}
}

func deleteCommand() *cli.Command {
	return &cli.Command{
		Name:      "delete",
		Usage:     "delete an object from a running lab",
		ArgsUsage: "KIND NAME",
		Flags: []cli.Flag{namespaceFlag(),
			&cli.IntFlag{Name: "grace-period", Value: -1, Usage: "seconds a deleted pod keeps serving while terminating (default: its terminationGracePeriodSeconds, 30)"}},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			args := cmd.Args().Slice()
			if len(args) != 2 {
				return &ExitError{Code: 1, Err: fmt.Errorf("delete: say KIND NAME, e.g. kinn delete pod web-abc")}
			}
			ns := cmd.String("namespace")
			if isPod(args[0]) {
				return deletePod(ctx, cmd, ns, args[1], int64(cmd.Int("grace-period")))
			}
			return edit(ctx, cmd, "delete", func(raw []byte, _ string) ([]byte, error) {
				return topology.Delete(raw, args[0], ns, args[1])
			})
		},
	}
}

func scaleCommand() *cli.Command {
	return &cli.Command{
		Name:      "scale",
		Usage:     "set a Deployment's replicas",
		ArgsUsage: "deployment NAME",
		Flags:     []cli.Flag{namespaceFlag(), &cli.IntFlag{Name: "replicas", Value: -1, Usage: "the new number of replicas"}},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			args := cmd.Args().Slice()
			if len(args) == 1 {
				if k, n, ok := cutSlash(args[0]); ok {
					args = []string{k, n}
				}
			}
			if len(args) != 2 || !isDeployment(args[0]) {
				return &ExitError{Code: 1, Err: fmt.Errorf("scale: say deployment NAME --replicas N")}
			}
			n := cmd.Int("replicas")
			if n < 0 {
				return &ExitError{Code: 1, Err: fmt.Errorf("scale: --replicas N is required and cannot be negative")}
			}
			return edit(ctx, cmd, "scale", func(raw []byte, _ string) ([]byte, error) {
				return topology.Scale(raw, cmd.String("namespace"), args[1], int(n))
			})
		},
	}
}

func readyCommand() *cli.Command {
	return &cli.Command{
		Name:      "ready",
		Usage:     "force a pod unready (false) or back to its probe's verdict (true)",
		ArgsUsage: "POD true|false",
		Flags:     []cli.Flag{namespaceFlag()},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			args := cmd.Args().Slice()
			if len(args) != 2 {
				return &ExitError{Code: 1, Err: fmt.Errorf("ready: say POD true|false")}
			}
			ready, err := strconv.ParseBool(args[1])
			if err != nil {
				return &ExitError{Code: 1, Err: fmt.Errorf("ready: %q is neither true nor false", args[1])}
			}
			if err := needRoot("ready"); err != nil {
				return err
			}
			o := options(cmd, nil)
			name, err := lab.Pick(o, chosenLab(cmd))
			if err != nil {
				return err
			}
			if err := daemon.NewClient(o, name).SetReady(ctx, cmd.String("namespace"), args[0], ready); err != nil {
				return &ExitError{Code: 1, Err: err}
			}
			fmt.Fprintf(cmd.Root().ErrWriter, "pod %s/%s ready=%v\n", cmd.String("namespace"), args[0], ready)
			return nil
		},
	}
}

func deletePod(ctx context.Context, cmd *cli.Command, ns, pod string, grace int64) error {
	if err := needRoot("delete"); err != nil {
		return err
	}
	o := options(cmd, nil)
	name, err := lab.Pick(o, chosenLab(cmd))
	if err != nil {
		return err
	}
	if err := daemon.NewClient(o, name).DeletePod(ctx, ns, pod, grace); err != nil {
		return &ExitError{Code: 1, Err: err}
	}
	fmt.Fprintf(cmd.Root().ErrWriter, "pod %s/%s deleted\n", ns, pod)
	if st, err := lab.Load(o, name); err == nil {
		warn(cmd.Root().ErrWriter, lab.NotRunning(st.Plan, ns+"/"+pod))
	}
	return nil
}

// warn reports pods an edit left failed that were not its business: a pod
// stuck in sandbox creation never blocks work on others.
func warn(w io.Writer, warnings []string) {
	for _, s := range warnings {
		fmt.Fprintf(w, "warning: %s\n", s)
	}
}

// edit runs one topology change on the picked lab and re-syncs its process.
func edit(ctx context.Context, cmd *cli.Command, verb string, change func([]byte, string) ([]byte, error)) error {
	if err := needRoot(verb); err != nil {
		return err
	}
	o := options(cmd, cmd.Root().ErrWriter)
	name, err := lab.Pick(o, chosenLab(cmd))
	if err != nil {
		return err
	}
	res, err := daemon.Edit(ctx, o, name, change)
	var bad *lab.ConfigError
	if errors.As(err, &bad) {
		return &ExitError{Code: 2, Err: err} // the change asked for the impossible; nothing changed
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.Root().ErrWriter, "lab %q: %d pods, %d attached, %d removed\n", name, len(res.Plan.Pods), res.Attached, res.Removed)
	warn(cmd.Root().ErrWriter, res.Warnings)
	return nil
}

func namespaceFlag() cli.Flag {
	return &cli.StringFlag{Name: "namespace", Aliases: []string{"n"}, Value: "default", Usage: "Kubernetes namespace"}
}

func isPod(k string) bool        { return k == "pod" || k == "pods" || k == "po" }
func isDeployment(k string) bool { return k == "deployment" || k == "deployments" || k == "deploy" }

func cutSlash(s string) (string, string, bool) {
	for i := range s {
		if s[i] == '/' {
			return s[:i], s[i+1:], true
		}
	}
	return "", "", false
}
