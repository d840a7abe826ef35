// Package cli is kinn's command line: one file per verb, each a thin client
// of package lab. Run is the whole program; main only calls it and exits
// with the status it returns.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/urfave/cli/v3"

	"kinn.dev/kinn/lab"
	"kinn.dev/kinn/topology"
)

// Version is set at build time with -ldflags "-X kinn.dev/kinn/lab/cli.Version=...".
var Version = "v0.1.0-dev"

// ExitError carries a process exit status through the call chain.
type ExitError struct {
	Code int
	Err  error // nil when the status speaks for itself (kinn exec)
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return "exit status " + strconv.Itoa(e.Code)
	}
	return e.Err.Error()
}
func (e *ExitError) Unwrap() error { return e.Err }

// Run runs kinn with args (args[0] is the program name) and returns the exit
// status, having printed any error once to stderr.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := &cli.Command{
		Name:            "kinn",
		Usage:           "Kubernetes IN Namespaces: a cluster network built from network namespaces",
		Version:         Version,
		Reader:          stdin,
		Writer:          stdout,
		ErrWriter:       stderr,
		HideHelpCommand: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "state-dir", Usage: "root of the labs' state directories", Value: lab.DefaultStateRoot, Sources: cli.EnvVars("KINN_STATE_DIR")},
			&cli.StringFlag{Name: "run-dir", Usage: "root of the labs' runtime directories", Value: lab.DefaultRuntimeRoot, Sources: cli.EnvVars("KINN_RUN_DIR")},
			nameFlag(),
		},
		Commands: []*cli.Command{upCommand(), downCommand(), getCommand(), execCommand(), versionCommand(), labProcessCommand(), podViewCommand(),
			applyCommand(), deleteCommand(), describeCommand(), scaleCommand(), readyCommand(), checkCommand(), rulesCommand(), tuiCommand(), cniCommand(), useCommand(), traceCommand()},
		ExitErrHandler: func(context.Context, *cli.Command, error) {}, // we print and exit ourselves
	}
	err := root.Run(ctx, args)
	if err == nil {
		return 0
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			fmt.Fprintln(stderr, "kinn:", ee.Err)
		}
		return ee.Code
	}
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		// Ctrl-C or SIGTERM: what was done stays, and the next kinn up
		// converges from there.
		fmt.Fprintln(stderr, "kinn: interrupted:", err)
		return 130
	}
	var probs topology.Problems
	if errors.As(err, &probs) {
		fmt.Fprintln(stderr, err)
		return 2
	}
	fmt.Fprintln(stderr, "kinn:", err)
	return 1
}

// nameFlag is kinn's --name, a global flag: urfave/cli hands a root flag
// down to every verb, so it may come before the verb (kinn --name X get
// pods) or after it (kinn get pods --name X). A verb must not declare its
// own --name: that one would hide the root's when given before the verb.
func nameFlag() cli.Flag {
	return &cli.StringFlag{Name: "name", Usage: "the lab to act on (default: $KINN_LAB, else the lab of `kinn use`, else the only lab that exists, else kinn)"}
}

// chosenLab is the lab named for this command: --name, else KINN_LAB, ""
// for neither (lab.Pick then goes on to the current lab).
func chosenLab(cmd *cli.Command) string {
	if n := cmd.String("name"); n != "" {
		return n
	}
	return os.Getenv("KINN_LAB")
}

func options(cmd *cli.Command, progress io.Writer) lab.Options {
	return lab.Options{StateRoot: cmd.String("state-dir"), RuntimeRoot: cmd.String("run-dir"), Progress: progress}
}

// needRoot checks for the capabilities a command needs before it does
// anything, so that an unprivileged run creates nothing.
func needRoot(verb string) error {
	missing := missingCaps()
	if len(missing) == 0 {
		return nil
	}
	return &ExitError{Code: 1, Err: fmt.Errorf("kinn %s needs root: %s missing (network namespaces take CAP_SYS_ADMIN, links and routes CAP_NET_ADMIN); try sudo kinn %s",
		verb, strings.Join(missing, " and "), verb)}
}

// missingCaps reads the effective capability set of this process.
func missingCaps() []string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return []string{"CAP_SYS_ADMIN", "CAP_NET_ADMIN"}
	}
	var eff uint64
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			eff, _ = strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		}
	}
	var missing []string
	for _, c := range []struct {
		bit  uint
		name string
	}{{21, "CAP_SYS_ADMIN"}, {12, "CAP_NET_ADMIN"}} {
		if eff&(1<<c.bit) == 0 {
			missing = append(missing, c.name)
		}
	}
	return missing
}

// session is a command's lab: its options, name and recorded state.
type session struct {
	o    lab.Options
	name string
	st   *lab.State
}

// openLab is the prelude of the commands that read a lab: the privilege
// check (when verb needs root), the lab picked by --name, and its state.
func openLab(cmd *cli.Command, verb string) (*session, error) {
	if verb != "" {
		if err := needRoot(verb); err != nil {
			return nil, err
		}
	}
	o := options(cmd, nil)
	name, err := lab.Pick(o, chosenLab(cmd))
	if err != nil {
		return nil, err
	}
	st, err := lab.Load(o, name)
	if err != nil {
		return nil, err
	}
	return &session{o: o, name: name, st: st}, nil
}
