package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v3"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"kinn.dev/kinn/lab"
	"kinn.dev/kinn/lab/daemon"
	"kinn.dev/kinn/lab/service"
)

func getCommand() *cli.Command {
	return &cli.Command{
		Name:      "get",
		Usage:     "list nodes, pods, services or endpoint slices, kubectl-style",
		ArgsUsage: "nodes|pods|svc|endpointslices [NAME]",
		Flags: []cli.Flag{
			nameFlag(),
			&cli.StringFlag{Name: "namespace", Aliases: []string{"n"}, Value: "default", Usage: "Kubernetes namespace of the pods"},
			&cli.BoolFlag{Name: "all-namespaces", Aliases: []string{"A"}, Usage: "pods of every namespace"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "wide, json or yaml"},
		},
		Action: runGet,
	}
}

func runGet(ctx context.Context, cmd *cli.Command) error {
	args := cmd.Args().Slice()
	if len(args) == 0 || len(args) > 2 {
		return &ExitError{Code: 1, Err: fmt.Errorf("get: say what to get: nodes or pods, optionally a name")}
	}
	out := cmd.String("output")
	switch out {
	case "", "wide", "json", "yaml":
	default:
		return &ExitError{Code: 1, Err: fmt.Errorf("get: unknown output format %q (wide, json or yaml)", out)}
	}
	s, err := openLab(cmd, "")
	if err != nil {
		return err
	}
	st, o, name := s.st, s.o, s.name
	one := ""
	if len(args) == 2 {
		one = args[1]
	}
	w := cmd.Root().Writer
	switch strings.ToLower(args[0]) {
	case "node", "nodes", "no":
		return getNodes(w, st.Nodes(), one, out)
	case "pod", "pods", "po":
		ns := cmd.String("namespace")
		if cmd.Bool("all-namespaces") {
			ns = ""
		}
		status := liveStatus(ctx, cmd, o, name)
		return getPods(w, st.PodsLive(status.Live()), ns, one, out)
	case "svc", "service", "services":
		return getServices(w, st, cmd, one, out)
	case "endpointslices", "endpointslice", "eps":
		return getSlices(ctx, w, st, o, name, cmd, one, out)
	}
	return &ExitError{Code: 1, Err: fmt.Errorf("get: unknown resource %q (nodes, pods, svc or endpointslices)", args[0])}
}

// nsFilter is the namespace a get shows, "" for all.
func nsFilter(cmd *cli.Command) string {
	if cmd.Bool("all-namespaces") {
		return ""
	}
	return cmd.String("namespace")
}

func getServices(w io.Writer, st *lab.State, cmd *cli.Command, one, out string) error {
	ns := nsFilter(cmd)
	var svcs []*corev1.Service
	for _, s := range st.Services {
		if (ns == "" || s.Namespace == ns) && (one == "" || s.Name == one) {
			svcs = append(svcs, s)
		}
	}
	if one != "" && len(svcs) == 0 {
		return &ExitError{Code: 1, Err: fmt.Errorf("service %q not found in namespace %q", one, ns)}
	}
	switch out {
	case "json", "yaml":
		if one != "" {
			return encode(w, out, svcs[0])
		}
		return encode(w, out, service.ServiceList(svcs))
	}
	return printTable(w, service.ServiceTable(svcs, ns == "", out == "wide"))
}

func getSlices(ctx context.Context, w io.Writer, st *lab.State, o lab.Options, name string, cmd *cli.Command, one, out string) error {
	status := liveStatus(ctx, cmd, o, name)
	ns := nsFilter(cmd)
	var svcs []*corev1.Service
	for _, s := range st.Services {
		if ns == "" || s.Namespace == ns {
			svcs = append(svcs, s)
		}
	}
	var user []*discoveryv1.EndpointSlice
	for _, s := range st.Topology.EndpointSlices {
		if ns == "" || s.Namespace == ns {
			user = append(user, s)
		}
	}
	slices := service.WithUserSlices(service.EndpointSlices(svcs, st.PodStates(status.Readiness())), user)
	if one != "" {
		var keep []discoveryv1.EndpointSlice
		for _, s := range slices {
			if s.Name == one || s.Labels[discoveryv1.LabelServiceName] == one {
				keep = append(keep, s)
			}
		}
		if len(keep) == 0 {
			return &ExitError{Code: 1, Err: fmt.Errorf("endpointslice %q not found in namespace %q", one, ns)}
		}
		slices = keep
	}
	switch out {
	case "json", "yaml":
		if one != "" && len(slices) == 1 {
			return encode(w, out, slices[0])
		}
		return encode(w, out, service.EndpointSliceList(slices))
	}
	return printTable(w, service.EndpointSliceTable(slices, ns == ""))
}

func printTable(w io.Writer, t service.Table) error {
	if len(t.Rows) == 0 {
		fmt.Fprintln(w, "No resources found.")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, strings.Join(t.Header, "\t"))
	for _, r := range t.Rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

func getNodes(w io.Writer, nodes []corev1.Node, one, out string) error {
	if one != "" {
		for _, n := range nodes {
			if n.Name == one {
				nodes = []corev1.Node{n}
				return printNodes(w, nodes, out, true)
			}
		}
		return &ExitError{Code: 1, Err: fmt.Errorf("node %q not found", one)}
	}
	return printNodes(w, nodes, out, false)
}

func printNodes(w io.Writer, nodes []corev1.Node, out string, single bool) error {
	switch out {
	case "json", "yaml":
		if single {
			return encode(w, out, nodes[0])
		}
		return encode(w, out, corev1.NodeList{TypeMeta: metav1.TypeMeta{Kind: "NodeList", APIVersion: "v1"}, Items: nodes})
	}
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	head := "NAME\tSTATUS\tROLES\tINTERNAL-IP\tPOD-CIDR"
	if out == "wide" {
		head += "\tNETNS"
	}
	fmt.Fprintln(tw, head)
	for _, n := range nodes {
		status, role := "NotReady", "<none>"
		if n.Status.Conditions[0].Status == corev1.ConditionTrue {
			status = "Ready"
		}
		if _, ok := n.Labels["node-role.kubernetes.io/control-plane"]; ok {
			role = "control-plane"
		}
		line := fmt.Sprintf("%s\t%s\t%s\t%s\t%s", n.Name, status, role, n.Status.Addresses[0].Address, n.Spec.PodCIDR)
		if out == "wide" {
			line += "\t" + n.Annotations["kinn.dev/netns"]
		}
		fmt.Fprintln(tw, line)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range nodes {
		if c := n.Status.Conditions[0]; c.Status != corev1.ConditionTrue {
			fmt.Fprintf(w, "\nnode %s: %s: %s\n", n.Name, c.Reason, c.Message)
		}
	}
	return nil
}

func getPods(w io.Writer, all []corev1.Pod, ns, one, out string) error {
	var pods []corev1.Pod
	for _, p := range all {
		if (ns == "" || p.Namespace == ns) && (one == "" || p.Name == one) {
			pods = append(pods, p)
		}
	}
	if one != "" && len(pods) == 0 {
		return &ExitError{Code: 1, Err: fmt.Errorf("pod %q not found in namespace %q", one, ns)}
	}
	switch out {
	case "json", "yaml":
		if one != "" {
			return encode(w, out, pods[0])
		}
		return encode(w, out, corev1.PodList{TypeMeta: metav1.TypeMeta{Kind: "PodList", APIVersion: "v1"}, Items: pods})
	}
	if len(pods) == 0 {
		fmt.Fprintf(w, "No pods found in namespace %s.\n", ns)
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	head := "NAME\tREADY\tSTATUS\tIP\tNODE"
	if ns == "" {
		head = "NAMESPACE\t" + head
	}
	nets := false
	for _, p := range pods {
		nets = nets || lab.NetworksText(p) != ""
	}
	if out == "wide" {
		head += "\tNETNS"
		if nets {
			head += "\tNETWORKS"
		}
		head += "\tREASON" // why it is not ready: the probe's own error
	}
	fmt.Fprintln(tw, head)
	for _, p := range pods {
		ready, ip, status := "0/1", p.Status.PodIP, string(p.Status.Phase)
		if podReady(p) {
			ready = "1/1"
		}
		if p.Status.Reason != "" {
			status = p.Status.Reason
		}
		if p.DeletionTimestamp != nil {
			status = "Terminating"
		}
		if ip == "" {
			ip = "<none>"
		}
		line := fmt.Sprintf("%s\t%s\t%s\t%s\t%s", p.Name, ready, status, ip, p.Spec.NodeName)
		if ns == "" {
			line = p.Namespace + "\t" + line
		}
		if out == "wide" {
			line += "\t" + cmp.Or(p.Annotations["kinn.dev/netns"], "<none>") // no sandbox, no namespace
			if n := lab.NetworksText(p); nets && n != "" {
				line += "\t" + n
			} else if nets {
				line += "\t<none>"
			}
			line += "\t" + cmp.Or(lab.NotReadyReason(p), "<none>")
		}
		fmt.Fprintln(tw, line)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, p := range pods {
		if p.Status.Message != "" {
			fmt.Fprintf(w, "\npod %s/%s: %s: %s\n", p.Namespace, p.Name, p.Status.Reason, p.Status.Message)
		}
	}
	return nil
}

func podReady(p corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
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

// liveStatus is the lab process's view of the pods for a listing, nil
// without one (no pod is ready then). One that runs but does not answer is
// worth a warning: the listing would say the pods are not ready.
func liveStatus(ctx context.Context, cmd *cli.Command, o lab.Options, name string) *daemon.Status {
	status, err := daemon.NewClient(o, name).Status(ctx)
	var stuck *daemon.NotAnsweringError
	if errors.As(err, &stuck) {
		fmt.Fprintf(cmd.Root().ErrWriter, "warning: %v\n", err)
	}
	return status
}
