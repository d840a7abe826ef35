package lab

// Describe: `kinn describe` in kubectl describe's layout (k8s.io/kubectl
// pkg/describe): a tabwriter over the whole text, nested levels indented by
// two spaces, labels one a line, "<none>" for what is empty, and an Events
// section last. What kinn adds says so in its own lines (the host-side
// veth, why a selected pod is no endpoint). The builders are pure: the
// caller reads the state, the lab process's status, the events and the
// clock, so tests give them fixed ones.

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"k8s.io/apimachinery/pkg/util/duration"
)

// Describer holds what describe reads.
type Describer struct {
	State  *State
	Live   LiveStatus // the lab process's word on each pod (nil: nothing known)
	Events []Event    // LogEvents and CNIEvents, any order
	Now    time.Time
}

// DescribePod is `kinn describe pod` as text, for the terminal UI.
func DescribePod(st *State, live LiveStatus, events []Event, ns, name string, now time.Time) (string, error) {
	return Describer{State: st, Live: live, Events: events, Now: now}.Pod(ns, name)
}

// FileLabLog is the lab process's log in the lab's runtime directory.
const FileLabLog = "lab.log"

// ReadEvents reads a lab's events: the lab process's log and the CNI
// calls. A missing log (no lab process yet) is no events.
func ReadEvents(o Options, name string) ([]Event, error) {
	b, err := os.ReadFile(filepath.Join(o.RuntimeDir(name), FileLabLog))
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	events := LogEvents(string(b))
	calls, err := CNICalls(o, name)
	if err != nil {
		return events, err
	}
	// The sandbox's calls come before what its pod did in the same second;
	// the call log reads newest first, events go oldest first.
	cniEvents := CNIEvents(calls)
	slices.Reverse(cniEvents)
	return append(cniEvents, events...), nil
}

// live is d.Live, or nothing known.
// known reports whether the lab process answered: without it no pod's
// readiness is known, and what depends on it is shown as <unknown>.
func (d Describer) known() bool {
	for _, p := range d.State.Plan.Pods {
		if d.live(p.Key()).Known {
			return true
		}
	}
	return len(d.State.Plan.Pods) == 0
}

func (d Describer) live(key string) PodLive {
	if d.Live == nil {
		return PodLive{}
	}
	return d.Live(key)
}

// text collects one description.
type text struct {
	buf bytes.Buffer
	tw  *tabwriter.Writer
}

func newText() *text {
	t := &text{}
	t.tw = tabwriter.NewWriter(&t.buf, 0, 8, 2, ' ', 0) // kubectl's
	return t
}

// line writes one line at a nesting level.
func (t *text) line(level int, format string, args ...any) {
	fmt.Fprintf(t.tw, strings.Repeat("  ", level)+format+"\n", args...)
}

func (t *text) String() string {
	t.tw.Flush()
	return t.buf.String()
}

// pairs writes a map one "key=value" (or "key: value") a line, as
// kubectl's printLabelsMultiline.
func (t *text) pairs(level int, title string, m map[string]string, sep string) {
	if len(m) == 0 {
		t.line(level, "%s:\t<none>", title)
		return
	}
	for i, k := range slices.Sorted(maps.Keys(m)) {
		head := title + ":"
		if i > 0 {
			head = ""
		}
		t.line(level, "%s\t%s%s%s", head, k, sep, m[k])
	}
}

// events writes the Events section for one object.
func (t *text) events(all []Event, object string, now time.Time) {
	var mine []Event
	for _, e := range all {
		if e.Object == object {
			mine = append(mine, e)
		}
	}
	mine = Fold(mine)
	if len(mine) == 0 {
		t.line(0, "Events:\t<none>")
		return
	}
	t.line(0, "Events:")
	t.line(1, "Type\tReason\tAge\tFrom\tMessage")
	t.line(1, "----\t------\t----\t----\t-------")
	for _, e := range mine {
		t.line(1, "%s\t%s\t%s\t%s\t%s", e.Type, e.Reason, eventAge(e, now), e.From, e.Message)
	}
}

// eventAge is kubectl's: "2m", or "5s (x12 over 2m)" for a folded event.
func eventAge(e Event, now time.Time) string {
	if e.Last.IsZero() {
		return "<unknown>"
	}
	age := duration.HumanDuration(now.Sub(e.Last))
	if e.Count > 1 {
		return fmt.Sprintf("%s (x%d over %s)", age, e.Count, duration.HumanDuration(now.Sub(e.First)))
	}
	return age
}

// orNone is kubectl's "<none>" for an empty value.
func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}
