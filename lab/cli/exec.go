package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v3"

	"kinn.dev/kinn/lab"
)

func execCommand() *cli.Command {
	return &cli.Command{
		Name:      "exec",
		Usage:     "run a host command inside a pod's, a node's or the outside world's network namespace",
		ArgsUsage: "POD|node/NODE -- CMD [ARGS...]   or   --external -- CMD [ARGS...]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "namespace", Aliases: []string{"n"}, Value: "default", Usage: "the pod's Kubernetes namespace"},
			&cli.BoolFlag{Name: "external", Usage: "run in the switch namespace, a machine outside the cluster"},
		},
		Action: runExec,
	}
}

func runExec(_ context.Context, cmd *cli.Command) error {
	args := cmd.Args().Slice()
	t := lab.Target{External: cmd.Bool("external"), Namespace: cmd.String("namespace")}
	if !t.External {
		if len(args) == 0 {
			return &ExitError{Code: 1, Err: errors.New("exec: name a pod, node/NODE or --external, then -- and a command")}
		}
		if node, ok := strings.CutPrefix(args[0], "node/"); ok {
			t.Node = node
		} else {
			t.Pod = strings.TrimPrefix(args[0], "pod/")
		}
		args = args[1:]
	}
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		return &ExitError{Code: 1, Err: errors.New("exec: no command given (kinn exec POD -- CMD...)")}
	}
	s, err := openLab(cmd, "exec")
	if err != nil {
		return err
	}
	r := cmd.Root()
	code, err := s.st.Exec(t, args, r.Reader, r.Writer, r.ErrWriter)
	if err != nil {
		return &ExitError{Code: code, Err: fmt.Errorf("exec: %w", err)}
	}
	if code != 0 {
		return &ExitError{Code: code}
	}
	return nil
}
