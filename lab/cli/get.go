package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/urfave/cli/v3"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	"kinn.dev/kinn/lab"
	"kinn.dev/kinn/lab/daemon"
	"kinn.dev/kinn/lab/service"
)

func getCommand() *cli.Command {
	return &cli.Command{
		Name:      "get",
		Usage:     "list nodes, pods, services, endpoint slices, namespaces, deployments, daemonsets or networkpolicies, kubectl-style",
		ArgsUsage: "nodes|pods|svc|endpointslices|namespaces|deployments|daemonsets|networkpolicies [NAME]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "namespace", Aliases: []string{"n"}, Value: "default", Usage: "Kubernetes namespace of the objects"},
			&cli.BoolFlag{Name: "all-namespaces", Aliases: []string{"A"}, Usage: "objects of every namespace"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "wide, json or yaml"},
			&cli.StringFlag{Name: "selector", Aliases: []string{"l"}, Usage: "label selector, as kubectl's: a=b, a!=b, 'a in (x,y)', 'a notin (x)', a, !a, comma-separated"},
			&cli.BoolFlag{Name: "show-labels", Usage: "add a LABELS column"},
			&cli.BoolFlag{Name: "watch", Aliases: []string{"w"}, Usage: "after the table, print each row that changes or appears, until Ctrl-C"},
		},
		Action: runGet,
	}
}

// getRequest is what one get lists, read from its arguments and flags.
type getRequest struct {
	kind       string // the resource's plural name
	one        string // a single object's name, "" for all
	ns         string // "" for every namespace
	out        string // "", wide, json or yaml
	sel        labels.Selector
	showLabels bool
}

// kinds maps what users type (kubectl's names and short names) to the
// resource.
var kinds = map[string]string{
	"node": "nodes", "nodes": "nodes", "no": "nodes",
	"pod": "pods", "pods": "pods", "po": "pods",
	"svc": "services", "service": "services", "services": "services",
	"endpointslices": "endpointslices", "endpointslice": "endpointslices", "eps": "endpointslices",
	"namespace": "namespaces", "namespaces": "namespaces", "ns": "namespaces",
	"deployment": "deployments", "deployments": "deployments", "deploy": "deployments",
	"daemonset": "daemonsets", "daemonsets": "daemonsets", "ds": "daemonsets",
	"networkpolicy": "networkpolicies", "networkpolicies": "networkpolicies", "netpol": "networkpolicies",
}

func parseGet(cmd *cli.Command) (getRequest, error) {
	args := cmd.Args().Slice()
	if len(args) == 0 || len(args) > 2 {
		return getRequest{}, &ExitError{Code: 1, Err: fmt.Errorf("get: say what to get: nodes, pods, svc, endpointslices, namespaces, deployments, daemonsets or networkpolicies, optionally a name")}
	}
	r := getRequest{kind: kinds[strings.ToLower(args[0])], ns: nsFilter(cmd), out: cmd.String("output"), showLabels: cmd.Bool("show-labels")}
	if r.kind == "" {
		return r, &ExitError{Code: 1, Err: fmt.Errorf("get: unknown resource %q (nodes, pods, svc, endpointslices, namespaces, deployments, daemonsets or networkpolicies)", args[0])}
	}
	if len(args) == 2 {
		r.one = args[1]
	}
	switch r.out {
	case "", "wide", "json", "yaml":
	default:
		return r, &ExitError{Code: 1, Err: fmt.Errorf("get: unknown output format %q (wide, json or yaml)", r.out)}
	}
	sel, err := labels.Parse(cmd.String("selector"))
	if err != nil {
		return r, &ExitError{Code: 1, Err: fmt.Errorf("get: selector %q: %w", cmd.String("selector"), err)}
	}
	r.sel = sel
	if r.one != "" && !sel.Empty() {
		return r, &ExitError{Code: 1, Err: errors.New("get: name cannot be provided when a selector is specified")} // kubectl's words
	}
	if cmd.Bool("watch") && (r.out == "json" || r.out == "yaml") {
		return r, &ExitError{Code: 1, Err: errors.New("get: --watch prints tables only (no -o json or yaml)")}
	}
	return r, nil
}

func runGet(ctx context.Context, cmd *cli.Command) error {
	r, err := parseGet(cmd)
	if err != nil {
		return err
	}
	s, err := openLab(cmd, "")
	if err != nil {
		return err
	}
	if cmd.Bool("watch") {
		return watchGet(ctx, cmd, s, r)
	}
	status, err := readStatus(ctx, s, r.kind)
	if err != nil {
		fmt.Fprintln(cmd.Root().ErrWriter, statusWarning(err))
	}
	l, err := list(s.st, status, r)
	if err != nil {
		return err
	}
	return show(cmd.Root().Writer, l, r.out)
}

// nsFilter is the namespace a get shows, "" for all.
func nsFilter(cmd *cli.Command) string {
	if cmd.Bool("all-namespaces") {
		return ""
	}
	return cmd.String("namespace")
}

// show prints a listing: its object as JSON or YAML, or its table and
// the notes under it.
func show(w io.Writer, l *listing, out string) error {
	switch out {
	case "json", "yaml":
		return encode(w, out, l.object)
	}
	if len(l.table.Rows) == 0 {
		fmt.Fprintln(w, l.empty)
		return nil
	}
	printTable(w, l.table)
	for _, n := range l.notes {
		fmt.Fprintf(w, "\n%s\n", n)
	}
	return nil
}

// printTable aligns a table as kubectl does: every column as wide as its
// widest cell plus three spaces, the last one unpadded.
func printTable(w io.Writer, t service.Table) error {
	if len(t.Rows) == 0 {
		_, err := fmt.Fprintln(w, "No resources found.")
		return err
	}
	widths := columnWidths(t)
	fmt.Fprintln(w, alignRow(widths, t.Header))
	for _, r := range t.Rows {
		fmt.Fprintln(w, alignRow(widths, r))
	}
	return nil
}

func columnWidths(t service.Table) []int {
	widths := make([]int, len(t.Header))
	for _, r := range append([][]string{t.Header}, t.Rows...) {
		for i, c := range r {
			if i < len(widths) {
				widths[i] = max(widths[i], utf8.RuneCountInString(c)+3)
			}
		}
	}
	return widths
}

func alignRow(widths []int, cells []string) string {
	var b strings.Builder
	for i, c := range cells {
		b.WriteString(c)
		if i < len(cells)-1 && i < len(widths) {
			b.WriteString(strings.Repeat(" ", max(widths[i]-utf8.RuneCountInString(c), 1)))
		}
	}
	return b.String()
}

func encode(w io.Writer, format string, v any) error {
	if format == "yaml" {
		b, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "    ")
	return enc.Encode(v)
}

// readStatus asks the lab process for the pods' readiness, which only it
// knows (probes, kinn ready, kinn delete), for the kinds whose listing
// shows it.
func readStatus(ctx context.Context, s *session, kind string) (*daemon.Status, error) {
	switch kind {
	case "nodes", "services", "namespaces":
		return &daemon.Status{}, nil // nothing of theirs depends on it
	}
	return daemon.NewClient(s.o, s.name).Status(ctx)
}

// statusWarning says that the listing's readiness is unknown, and why: the
// lab process is not running, stopped or hung. Without it a listing
// would state that every pod is not ready.
func statusWarning(err error) string {
	return fmt.Sprintf("warning: %v: pod readiness is unknown (shown as ?)", err)
}

// liveStatus is the lab process's view of the pods, nil without one (no
// pod is ready then), having warned of that.
func liveStatus(ctx context.Context, cmd *cli.Command, o lab.Options, name string) *daemon.Status {
	status, err := daemon.NewClient(o, name).Status(ctx)
	if err != nil && ctx.Err() == nil {
		fmt.Fprintln(cmd.Root().ErrWriter, statusWarning(err))
	}
	return status
}
