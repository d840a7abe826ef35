package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/urfave/cli/v3"

	"kinn.dev/kinn/lab"
)

// watchInterval is how often get --watch asks the lab process. kubectl's
// watch is pushed by the API server; kinn has no event stream, so it
// polls the lab's record and the lab process, both cheap.
const watchInterval = 500 * time.Millisecond

// watchGet is get --watch: the table once, then every row that changes or
// appears, aligned to the first table's columns as kubectl aligns them,
// until Ctrl-C (which ends it without an error). A warning about the lab
// process is printed when it changes, not at every poll.
func watchGet(ctx context.Context, cmd *cli.Command, s *session, r getRequest) error {
	w, stderr := cmd.Root().Writer, cmd.Root().ErrWriter
	seen := map[string]string{}
	var widths []int
	warned := ""
	for {
		st, err := lab.Load(s.o, s.name)
		if err != nil {
			return err
		}
		status, serr := readStatus(ctx, s, r.kind)
		if ctx.Err() != nil {
			return nil
		}
		if msg := warning(serr); msg != warned {
			if msg != "" {
				fmt.Fprintln(stderr, msg)
			}
			warned = msg
		}
		l, err := list(st, status, r)
		if err != nil {
			return err
		}
		widths = printChanged(w, l, seen, widths)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(watchInterval):
		}
	}
}

// printChanged prints the rows of l that are not in seen as they are,
// with the header first when no table was printed yet, and records them.
// It returns the column widths, fixed by the first table printed.
func printChanged(w interface{ Write([]byte) (int, error) }, l *listing, seen map[string]string, widths []int) []int {
	if widths == nil {
		if len(l.table.Rows) == 0 {
			return nil
		}
		widths = columnWidths(l.table)
		fmt.Fprintln(w, alignRow(widths, l.table.Header))
	}
	for i, row := range l.table.Rows {
		line := alignRow(widths, row)
		if seen[l.keys[i]] != line {
			fmt.Fprintln(w, line)
			seen[l.keys[i]] = line
		}
	}
	return widths
}

func warning(err error) string {
	if err == nil {
		return ""
	}
	return statusWarning(err)
}
