// Command kinn builds the network of a small Kubernetes cluster on one Linux
// host from network namespaces. Run with CNI_COMMAND set (or as kinn-cni) it
// is kinn's CNI plugin instead.
package main

import (
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"kinn.dev/kinn/lab/cli"
	"kinn.dev/kinn/lab/cni"
)

func main() {
	if os.Getenv("CNI_COMMAND") != "" || filepath.Base(os.Args[0]) == "kinn-cni" {
		cni.Main()
		return
	}
	// The first SIGINT or SIGTERM cancels ctx: every long operation stops
	// at its next step and cleans up. A second one kills at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop)
	code := cli.Run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
