package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v3"

	"kinn.dev/kinn/lab"
)

func describeCommand() *cli.Command {
	return &cli.Command{
		Name:      "describe",
		Usage:     "show one object in detail with its events, kubectl-style",
		ArgsUsage: "pod|service|node|deployment|endpointslice NAME",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "namespace", Aliases: []string{"n"}, Value: "default", Usage: "Kubernetes namespace of the object"},
		},
		Action: runDescribe,
	}
}

func runDescribe(ctx context.Context, cmd *cli.Command) error {
	args := cmd.Args().Slice()
	if len(args) != 2 {
		return &ExitError{Code: 1, Err: fmt.Errorf("describe: say what: pod, service, node, deployment or endpointslice, and its name")}
	}
	s, err := openLab(cmd, "")
	if err != nil {
		return err
	}
	events, err := lab.ReadEvents(s.o, s.name)
	if err != nil {
		fmt.Fprintf(cmd.Root().ErrWriter, "warning: events: %v\n", err)
	}
	status := liveStatus(ctx, cmd, s.o, s.name)
	d := lab.Describer{State: s.st, Live: status.Live(), Events: events, Now: time.Now()}
	ns, name := cmd.String("namespace"), args[1]
	var text string
	switch strings.ToLower(args[0]) {
	case "pod", "pods", "po":
		text, err = d.Pod(ns, name)
	case "svc", "service", "services":
		text, err = d.Service(ns, name)
	case "node", "nodes", "no":
		text, err = d.Node(name)
	case "deployment", "deployments", "deploy":
		text, err = d.Deployment(ns, name)
	case "endpointslice", "endpointslices", "eps":
		text, err = d.EndpointSlice(ns, name)
	default:
		return &ExitError{Code: 1, Err: fmt.Errorf("describe: unknown resource %q (pod, service, node, deployment or endpointslice)", args[0])}
	}
	if err != nil {
		return &ExitError{Code: 1, Err: err}
	}
	_, err = fmt.Fprint(cmd.Root().Writer, text)
	return err
}
