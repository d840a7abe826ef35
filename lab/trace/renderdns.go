package trace

import (
	"fmt"
	"io"
	"strings"
)

// writeDNS tells the journey of the DNS query that resolved the
// destination, before the journey to it: the query as the request, the
// answer as the reply, and how it ended.
func writeDNS(w io.Writer, dns *Journey, verbose bool) {
	if dns == nil {
		return
	}
	writeHops(w, "DNS QUERY", dns.Request, verbose)
	writeHops(w, "DNS ANSWER", dns.Reply, verbose)
	mark := "✓"
	if dns.Verdict != Delivered {
		mark = "✗"
	}
	fmt.Fprintf(w, "\n%s DNS %s: %s\n", mark, strings.ToUpper(dns.Verdict), dns.Summary)
}
