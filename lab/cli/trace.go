package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v3"

	"kinn.dev/kinn/lab"
	"kinn.dev/kinn/lab/trace"
)

func traceCommand() *cli.Command {
	return &cli.Command{
		Name:  "trace",
		Usage: "send one real probe from SRC to DST and tell its journey hop by hop, from the kernel's own trace events",
		ArgsUsage: "SRC DST\n\n   SRC: a pod (NAME, NS/NAME, pod/NS/NAME), node/NAME or external (the switch)\n" +
			"   DST: a pod, svc/NAME or svc/NS/NAME (its first port unless --port), node/NAME:PORT (a NodePort), an IPv4 address,\n" +
			"        or a DNS name resolved as the source pod would (web, web.default.svc.cluster.local; dns/NAME; a pod of that name comes first)\n" +
			"   Exit status: 0 delivered and answered, 3 refused or dropped, 2 bad input, 1 no trace (--live: no connection came)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "namespace", Aliases: []string{"n"}, Value: "default", Usage: "the Kubernetes namespace of names given without one"},
			&cli.UintFlag{Name: "port", Usage: "destination port (default: the Service's first port, the pod's first declared port)"},
			&cli.StringFlag{Name: "proto", Value: "tcp", Usage: "tcp (a SYN by connect), udp (a datagram) or icmp (an echo)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "text", Usage: "text or json"},
			&cli.DurationFlag{Name: "timeout", Value: 2 * time.Second, Usage: "how long to wait for the answer (with --live, for the connection: 30s by default)"},
			&cli.BoolFlag{Name: "dns", Usage: "also trace the DNS query that resolved a name given as DST"},
			&cli.BoolFlag{Name: "live", Usage: "send no probe: trace the next new connection from SRC to DST (a program's own traffic)"},
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "show each rule's nft text and each route's question"},
			&cli.StringFlag{Name: "record", Usage: "also write what the kernel told (events, rules, routes, conntrack) as JSON to `FILE`, to tell the journey again without the lab (a bug report, kinn's golden tests)"},
		},
		Action: runTrace,
	}
}

func runTrace(ctx context.Context, cmd *cli.Command) error {
	req, err := traceRequest(cmd)
	if err != nil {
		return &ExitError{Code: 2, Err: fmt.Errorf("trace: %w", err)}
	}
	out := cmd.String("output")
	if out != "text" && out != "json" {
		return &ExitError{Code: 2, Err: fmt.Errorf("trace: -o %q: text or json", out)}
	}
	s, err := openLab(cmd, "trace")
	if err != nil {
		return err
	}
	status := liveStatus(ctx, cmd, s.o, s.name)
	var rec bytes.Buffer
	if f := cmd.String("record"); f != "" {
		if err := recordable(f); err != nil {
			return &ExitError{Code: 2, Err: fmt.Errorf("trace: --record %s: %w", f, err)}
		}
		req.Record = &rec
	}
	j, title, err := s.st.Trace(ctx, req, s.st.ServicePorts(status.Readiness()))
	var bi *lab.BadInput
	if errors.As(err, &bi) {
		return &ExitError{Code: 2, Err: fmt.Errorf("trace: %w", err)}
	}
	if err != nil {
		return fmt.Errorf("trace: %w", err)
	}
	if f := cmd.String("record"); f != "" {
		// Written once the trace is told: a bad request writes nothing.
		if err := writeFileAtomic(f, rec.Bytes()); err != nil {
			return fmt.Errorf("trace: --record: %w", err)
		}
	}
	w := cmd.Root().Writer
	if out == "json" {
		if err := trace.WriteJSON(w, j); err != nil {
			return err
		}
	} else {
		trace.WriteText(w, title, j, cmd.Bool("verbose"))
	}
	switch j.Verdict {
	case trace.Delivered:
		return nil
	case trace.Error:
		return &ExitError{Code: 1, Err: errors.New("trace: " + j.Summary)}
	}
	return &ExitError{Code: 3}
}

// recordable checks, before anything is traced, that path can take a
// recording: its directory exists, and it is a regular file or nothing
// (kinn runs as root: a device, a FIFO or a symlink is not replaced).
func recordable(path string) error {
	if d, err := os.Stat(filepath.Dir(path)); err != nil || !d.IsDir() {
		return fmt.Errorf("no directory %s", filepath.Dir(path))
	}
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("not a regular file (%s)", fi.Mode().Type())
	}
	return nil
}

// writeFileAtomic writes a new file beside path and renames it over path,
// so that path is either as it was or the whole recording, never cut.
func writeFileAtomic(path string, data []byte) error {
	if err := recordable(path); err != nil { // again: it may have changed meanwhile
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	if err := errors.Join(werr, f.Chmod(0o644), f.Close()); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}

// traceRequest reads the arguments; a mistake in them is the user's.
func traceRequest(cmd *cli.Command) (lab.TraceRequest, error) {
	args := cmd.Args().Slice()
	if len(args) != 2 {
		return lab.TraceRequest{}, fmt.Errorf("want SRC and DST, got %d argument(s): kinn trace SRC DST [--port N] [--proto tcp|udp|icmp]", len(args))
	}
	ns := cmd.String("namespace")
	r := lab.TraceRequest{Dst: args[1], Namespace: ns, Proto: strings.ToLower(cmd.String("proto")), Timeout: cmd.Duration("timeout"),
		DNS: cmd.Bool("dns"), Live: cmd.Bool("live"), Progress: cmd.Root().ErrWriter}
	if r.Live && !cmd.IsSet("timeout") {
		r.Timeout = lab.LiveTimeout
	}
	port := cmd.Uint("port")
	if port > 65535 || (cmd.IsSet("port") && port == 0) {
		return r, fmt.Errorf("--port %d: a port is 1 to 65535", port)
	}
	r.Port = uint16(port)
	if r.Timeout <= 0 {
		return r, fmt.Errorf("--timeout %s: must be positive", r.Timeout)
	}
	switch src := args[0]; {
	case src == "external":
		r.Src = lab.Target{External: true}
	case strings.HasPrefix(src, "node/"):
		r.Src = lab.Target{Node: strings.TrimPrefix(src, "node/")}
	default:
		src = strings.TrimPrefix(src, "pod/")
		r.Src = lab.Target{Namespace: ns, Pod: src}
		if n, p, ok := strings.Cut(src, "/"); ok {
			r.Src = lab.Target{Namespace: n, Pod: p}
		}
	}
	return r, nil
}
