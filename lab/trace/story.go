package trace

import (
	"fmt"
	"io"
	"strings"
)

// writeStory writes one journey's two directions under their titles and
// how it ended. The journey of the DNS query that resolved the
// destination is told this way before the journey to it: the query as
// the request, the answer as the reply, its verdict line marked "DNS".
func writeStory(w io.Writer, request, reply, prefix string, j Journey, verbose bool) {
	ok := j.Verdict == Delivered
	writeHops(w, request, j.Request, ok, verbose)
	writeHops(w, reply, j.Reply, ok, verbose)
	mark := "✓"
	if j.Verdict != Delivered {
		mark = "✗"
	}
	fmt.Fprintf(w, "\n%s %s%s: %s\n", mark, prefix, strings.ToUpper(j.Verdict), j.Summary)
}
