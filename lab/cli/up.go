package cli

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/urfave/cli/v3"
	"golang.org/x/sys/unix"

	"kinn.dev/kinn/lab"
	"kinn.dev/kinn/lab/daemon"
	"kinn.dev/kinn/lab/plan"
	"kinn.dev/kinn/lab/workload"
	"kinn.dev/kinn/topology"
)

func upCommand() *cli.Command {
	return &cli.Command{
		Name:      "up",
		Usage:     "create a lab, or converge it to its topology file",
		ArgsUsage: " ",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "file", Aliases: []string{"f"}, Usage: "topology file (default: an existing lab's recorded topology, else the built-in one, examples/default.yaml)"},
			&cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: "apply a file that takes away what the lab runs now (pods, nodes, namespaces, objects, settings) without asking"},
			&cli.BoolFlag{Name: "tui", Usage: "open the terminal UI once the lab is up"},
		},
		Action: runUp,
	}
}

func runUp(ctx context.Context, cmd *cli.Command) error {
	stderr := cmd.Root().ErrWriter
	file := cmd.String("file")
	src, warnings, err := readTopology(ctx, file)
	for _, w := range warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	if err != nil {
		return err
	}
	if src.Lab.Name, err = upName(cmd, src.Lab.Name); err != nil {
		return err
	}
	if err := topology.CheckLabName(src.Lab.Name); err != nil {
		return &ExitError{Code: 2, Err: err} // a new lab's name must fit every derived name
	}
	if err := needRoot("up"); err != nil {
		return err
	}
	o := options(cmd, stderr)
	// A chain that cannot work is bad input, reported before anything of
	// the lab exists (the lock makes its runtime directory).
	if err := src.Check(ctx); err != nil {
		return upError(src.Lab.Name, err)
	}
	var shown topology.Changes
	if file != "" && !cmd.Bool("yes") {
		if shown, err = confirmChanges(cmd, o, src); err != nil {
			return err
		}
	}
	res, err := upLocked(ctx, cmd, o, src, shown)
	if err != nil {
		return err
	}
	if cmd.Bool("tui") {
		return openTUI(ctx, cmd, o, src.Lab.Name)
	}
	printSummary(cmd.Root().Writer, res, needName(o, src.Lab.Name))
	return nil
}

// upName is the lab up acts on: --name, else KINN_LAB, else the file's
// (with -f), else the current lab (kinn use), else the built-in
// topology's. Unlike the other verbs, up does not pick the only lab that
// exists: without a name it makes or converges lab kinn, as it always has.
func upName(cmd *cli.Command, fromFile string) (string, error) {
	if n := chosenLab(cmd); n != "" || cmd.String("file") != "" {
		return cmp.Or(n, fromFile), nil
	}
	cur, err := lab.Current(options(cmd, nil))
	return cmp.Or(cur, fromFile), err
}

// upLocked holds the lab's lock from reading the lab's record to the lab
// process's reload, so that a down (or another up) never comes in between:
// without it, an up could restart the lab process of a lab a down had just
// removed.
func upLocked(ctx context.Context, cmd *cli.Command, o lab.Options, src lab.Source, shown topology.Changes) (*lab.Result, error) {
	name := src.Lab.Name
	unlock, err := lab.Lock(o, name)
	if err != nil {
		return nil, err
	}
	defer unlock()
	src, existed, err := desired(cmd, o, src, shown)
	if err != nil {
		return nil, err
	}
	res, err := lab.UpLocked(ctx, o, src)
	if err != nil {
		return nil, upFailed(ctx, o, name, existed, err)
	}
	if err := daemon.EnsureReplacing(ctx, o, name); err != nil {
		return nil, fmt.Errorf("up %s: %w", name, err)
	}
	return res, nil
}

// desired is what up converges the lab to, read under the lab's lock:
// without -f, a lab that exists stays what it is now, live changes
// included (never the built-in default over a lab made from another file);
// with -f, the file, provided the lab is still as it was when the changes
// were shown. existed says whether the lab had a record.
func desired(cmd *cli.Command, o lab.Options, src lab.Source, shown topology.Changes) (_ lab.Source, existed bool, _ error) {
	file, name := cmd.String("file"), src.Lab.Name
	rec, warnings, err := lab.Recorded(o, name)
	existed = rec != nil || err != nil
	switch {
	case file == "" && err != nil:
		return src, existed, fmt.Errorf("up %s: %w (bring it up from a file with -f)", name, err)
	case file == "" && rec != nil:
		for _, w := range warnings {
			fmt.Fprintf(cmd.Root().ErrWriter, "warning: %s\n", w)
		}
		src = *rec
	case file != "" && !cmd.Bool("yes"):
		now, _, err := lab.Preview(o, src)
		if err != nil {
			return src, existed, err
		}
		if !slices.Equal(now, shown) {
			return src, existed, &ExitError{Code: 1, Err: fmt.Errorf("up %s: the lab changed while the changes were shown; nothing was changed: run the command again to see the new ones", name)}
		}
	}
	fmt.Fprintf(cmd.Root().ErrWriter, "Bringing up lab %q from %s\n", name, describeSource(src, file == "" && rec != nil))
	noteRunPrograms(cmd.Root().ErrWriter, src.Lab)
	return src, existed, nil
}

func describeSource(src lab.Source, recorded bool) string {
	if recorded {
		return "its recorded topology (" + src.Path + ", with the live changes since)"
	}
	return src.Path
}

// upError gives a bad file's error its exit status: 2, nothing was created.
func upError(name string, err error) error {
	var bad *lab.ConfigError
	if errors.As(err, &bad) {
		return &ExitError{Code: 2, Err: err}
	}
	return fmt.Errorf("up %s: %w", name, err)
}

// upFailed handles an up that failed part-way, with the lab's lock held. A
// lab that is new and ran out of disk is removed again: its record may be
// cut short, and nothing of it may be left running. Otherwise what did come
// up (pods attach one by one) still gets its servers and rules, if the
// lab's record can be read.
func upFailed(ctx context.Context, o lab.Options, name string, existed bool, err error) error {
	var bad *lab.ConfigError
	if errors.As(err, &bad) {
		return &ExitError{Code: 2, Err: err} // nothing was created
	}
	if !existed && (errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)) {
		daemon.Stop(o, name)
		if derr := lab.DownLocked(ctx, o, name); derr != nil {
			return fmt.Errorf("up %s: %w; removing what it made failed too: %v (run `kinn down --name %s` once there is space)", name, err, derr, name)
		}
		return fmt.Errorf("up %s: %w: the disk holding %s is full; nothing of the lab was left: free some space and run `kinn up` again", name, err, o.StateDir(name))
	}
	daemon.EnsureReplacing(ctx, o, name)
	return fmt.Errorf("up %s: %w (run `kinn up` again to converge, or `kinn down --name %s`)", name, err, name)
}

// confirmChanges shows what the file changes in the lab's desired state
// (nothing for a new lab) and, when that takes away something running,
// asks on a terminal and refuses elsewhere. It returns what it showed.
func confirmChanges(cmd *cli.Command, o lab.Options, src lab.Source) (topology.Changes, error) {
	stderr := cmd.Root().ErrWriter
	name := src.Lab.Name
	cs, ok, err := lab.Preview(o, src)
	if err != nil {
		return nil, fmt.Errorf("up %s: compare %s with the lab: %w (--yes skips the comparison)", name, src.Path, err)
	}
	if !ok || len(cs) == 0 {
		return cs, nil
	}
	fmt.Fprintf(stderr, "%s changes lab %q as it is now (with its live changes):\n%s", src.Path, name, cs.Format("  "))
	if !cs.Destructive() {
		return cs, nil
	}
	if !isTerminal(cmd.Root().Reader) {
		return nil, &ExitError{Code: 1, Err: fmt.Errorf("up %s: %s takes away what the lab runs now (above); nothing was changed: "+
			"run again with --yes to apply it, or without -f to keep the lab as it is", name, src.Path)}
	}
	fmt.Fprint(stderr, "Apply these changes? [y/N] ")
	answer, _ := bufio.NewReader(cmd.Root().Reader).ReadString('\n')
	if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
		return nil, &ExitError{Code: 1, Err: fmt.Errorf("up %s: nothing was changed", name)}
	}
	return cs, nil
}

// isTerminal reports whether r is a terminal someone could answer from.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// noteRunPrograms names the pods that run a program of the topology's
// (kinn.dev/run) and those that run it with root's powers: a topology with
// them is code, confined as the README says, but run.
func noteRunPrograms(w io.Writer, t *topology.Lab) {
	var run, powerful []string
	for _, p := range t.Pods {
		if _, ok := p.Pod.Annotations[workload.RunAnnotation]; !ok {
			continue
		}
		run = append(run, p.Key())
		uid, _ := workload.RunAs(p.Pod)
		add, privileged := workload.Capabilities(p.Pod)
		switch {
		case privileged:
			powerful = append(powerful, p.Key()+" (privileged: every capability, writable host)")
		case slices.ContainsFunc(add, func(c string) bool { return c == "ALL" || strings.TrimPrefix(c, "CAP_") == "SYS_ADMIN" }):
			powerful = append(powerful, p.Key()+" (capabilities "+strings.Join(add, ",")+")")
		case uid == 0:
			powerful = append(powerful, p.Key()+" (runAsUser 0: reads what root may read)")
		}
	}
	if len(run) > 0 {
		fmt.Fprintf(w, "note: %d pods run a program of the topology (%s, confined as the README's Safety section says): %s\n",
			len(run), workload.RunAnnotation, strings.Join(run, ", "))
	}
	if len(powerful) > 0 {
		fmt.Fprintf(w, "note: these run with root's powers on this machine: %s\n", strings.Join(powerful, "; "))
	}
}

func readTopology(ctx context.Context, path string) (lab.Source, []topology.Warning, error) {
	if path == "" {
		t, w, err := topology.Default()
		return lab.Source{Lab: t, Raw: topology.DefaultYAML(), Path: "<default>"}, w, err
	}
	raw, err := topology.ReadFile(ctx, path)
	if err != nil && ctx.Err() != nil {
		return lab.Source{}, nil, err // interrupted, not bad input
	}
	if err != nil {
		return lab.Source{}, nil, &ExitError{Code: 2, Err: fmt.Errorf("read topology: %w", err)}
	}
	t, w, err := topology.Parse(path, raw)
	return lab.Source{Lab: t, Raw: raw, Path: path}, w, err
}

func printSummary(w io.Writer, res *lab.Result, needName bool) {
	p := res.Plan
	pods := map[string]int{}
	for _, pod := range p.Pods {
		pods[pod.Node]++
	}
	fmt.Fprintf(w, "Lab %q is up: %d nodes, %d pods (%d kernel changes, %d pods attached, %d namespaces removed) in %.2fs\n\n",
		p.Name, len(p.Nodes), len(p.Pods), res.Changes, res.Attached, res.Removed, res.Took.Seconds())
	if len(res.Repairs) > 0 {
		fmt.Fprintf(w, "Found and fixed %d differences from the lab's desired state:\n", len(res.Repairs))
		for _, r := range res.Repairs {
			fmt.Fprintf(w, "  - %s\n", r)
		}
		fmt.Fprintln(w)
	}
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "NODE\tINTERNAL-IP\tPOD-CIDR\tPODS")
	for _, n := range p.Nodes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", n.Name, n.Underlay.Addr(), n.PodCIDR, pods[n.Name])
	}
	tw.Flush()
	fmt.Fprintf(w, "\nTry:\n")
	for _, l := range tryLines(p, needName) {
		fmt.Fprintf(w, "  %s\n", l)
	}
}

// tryLines are the summary's suggestions: commands that work as printed.
// They name the lab only when needName (kinn would otherwise pick another,
// or none), and look at the lab's own pods, in their namespace (the
// cluster's kube-system pods only when the lab has no others).
func tryLines(p *plan.Lab, needName bool) []string {
	name := ""
	if needName {
		name = " --name " + p.Name
	}
	var own, ok []plan.Pod
	for _, pod := range p.Pods {
		if pod.Attached() {
			ok = append(ok, pod)
			if pod.Namespace != "kube-system" {
				own = append(own, pod)
			}
		}
	}
	if len(own) > 1 {
		ok = own
	}
	get := "kinn get pods -o wide" + name
	if nss := podNamespaces(ok); len(nss) == 1 && nss[0] != "default" {
		get += " -n " + nss[0]
	} else if len(nss) > 1 {
		get += " -A"
	}
	lines := []string{get}
	if len(ok) > 1 {
		a, b := ok[0], ok[len(ok)-1]
		lines = append(lines, fmt.Sprintf("kinn exec%s -n %s %s -- ping -c 3 %s", name, a.Namespace, a.Name, b.IP.Addr()))
	}
	if len(p.Nodes) > 0 {
		lines = append(lines, fmt.Sprintf("kinn exec%s node/%s -- ip route", name, p.Nodes[0].Name))
	}
	return append(lines, "kinn down"+name)
}

func podNamespaces(pods []plan.Pod) []string {
	var nss []string
	for _, p := range pods {
		if !slices.Contains(nss, p.Namespace) {
			nss = append(nss, p.Namespace)
		}
	}
	return nss
}

// needName says whether a command without --name would act on another lab
// than name: it would not if KINN_LAB or kinn use names it, or if it is
// the only lab and neither names another.
func needName(o lab.Options, name string) bool {
	if env := os.Getenv("KINN_LAB"); env != "" {
		return env != name
	}
	if cur, err := lab.Current(o); err != nil || cur != "" {
		return cur != name
	}
	labs, err := lab.List(o)
	return err != nil || !slices.Equal(labs, []string{name})
}
