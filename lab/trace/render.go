package trace

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteJSON writes the journey as one JSON document.
func WriteJSON(w io.Writer, j Journey) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(j)
}

// WriteText tells the journey as numbered hops grouped by namespace: ✓ for
// a hop that delivered, → for one that passed the packet on, ✗ for the one
// that stopped it. verbose adds each rule's nft text.
func WriteText(w io.Writer, title string, j Journey, verbose bool) {
	fmt.Fprintln(w, title)
	if j.DNS != nil {
		writeStory(w, "DNS QUERY", "DNS ANSWER", "DNS ", *j.DNS, verbose)
	}
	writeStory(w, "REQUEST", "REPLY", "", j, verbose)
	for _, g := range j.Gaps {
		fmt.Fprintf(w, "warning: %s\n", g)
	}
	if verbose {
		for _, n := range j.Notes {
			fmt.Fprintf(w, "note: %s\n", n)
		}
	}
}

func writeHops(w io.Writer, title string, hops []Hop, delivered, verbose bool) {
	fmt.Fprintf(w, "\n%s\n", title)
	if len(hops) == 0 {
		fmt.Fprintln(w, "  (nothing traced)")
		return
	}
	prev, n := "", 0
	for _, h := range hops {
		if h.Namespace != prev {
			n++
			fmt.Fprintf(w, "%2d %s\n", n, placeName(h))
			prev = h.Namespace
		}
		fmt.Fprintf(w, "   %s %-9s %s", mark(h, delivered), h.Component, h.Action)
		if h.Owner != nil {
			fmt.Fprintf(w, "  [%s]", h.Owner)
		}
		fmt.Fprintln(w)
		if h.Detail != "" {
			fmt.Fprintf(w, "               %s\n", h.Detail)
		}
		if verbose && h.Rule != "" {
			fmt.Fprintf(w, "               %s\n", h.Rule)
		}
	}
}

func placeName(h Hop) string {
	switch {
	case h.Pod != "":
		return fmt.Sprintf("pod %s on %s  (%s)", h.Pod, h.Node, h.Namespace)
	case h.Node != "":
		return fmt.Sprintf("node %s  (%s)", h.Node, h.Namespace)
	case strings.HasSuffix(h.Namespace, ".switch"): // plan.SwitchNetns
		return fmt.Sprintf("the switch, the outside world  (%s)", h.Namespace)
	}
	return h.Namespace
}

// mark: a socket's answer is a success only when the probe was delivered
// (a reset or an ICMP error is an answer too, and a failure).
func mark(h Hop, delivered bool) string {
	switch {
	case h.Component == CompDrop, h.Component == CompSocket && !delivered:
		return "✗"
	case h.Component == CompSocket:
		return "✓"
	}
	return "→"
}
