// Package conformance runs a CNI plugin chain through the runtime scenarios
// of the CNI specification (SPEC.md, version 1.1.0) and judges what the
// plugins did, clause by clause: ADD then CHECK then DEL, DEL twice, DEL of
// an attachment never added, DEL after the namespace is gone, prevResult
// chaining, GC with and without valid attachments, STATUS, VERSION and every
// cniVersion the plugins declare, the shape and codes of error results, the
// validity of results, and what is left in the node after DEL.
//
// It plays the runtime with libcni, as kinn's labs do, in namespaces of its
// own: a throwaway "node" namespace that the plugins take for the host, and
// one container namespace per attachment, all removed at the end. Nothing
// of any lab and nothing of the host's namespace is touched.
//
// The verdicts are pure functions of what was recorded (plugin output,
// snapshots of the node): report.go and judge.go hold them, run.go and
// scenarios.go the part that needs a kernel.
package conformance

import (
	"fmt"
	"strings"
)

// Verdict is a clause's outcome.
type Verdict string

const (
	Pass Verdict = "pass"
	Fail Verdict = "fail"
	Skip Verdict = "skip" // not applicable to this chain or version
	Warn Verdict = "warn" // a SHOULD of the spec not met: reported, not failed
)

// Clause is one requirement of the spec and how the chain fared.
type Clause struct {
	Name    string  `json:"clause"`
	Spec    string  `json:"spec"` // where SPEC.md says it
	Verdict Verdict `json:"result"`
	Reason  string  `json:"reason,omitempty"`
}

// Report is a whole run.
type Report struct {
	// ID names the run: its namespaces are kinnconf-<ID>-*.
	ID         string   `json:"id"`
	Network    string   `json:"network"`
	CNIVersion string   `json:"cniVersion"`
	Plugins    []string `json:"plugins"`
	BinDir     string   `json:"binDir"`
	Versions   []string `json:"versions"` // every cniVersion the scenarios ran at
	Clauses    []Clause `json:"clauses"`
	DurationMS float64  `json:"durationMs"`
}

// Failed counts the failed clauses.
func (r *Report) Failed() int {
	n := 0
	for _, c := range r.Clauses {
		if c.Verdict == Fail {
			n++
		}
	}
	return n
}

func (r *Report) add(name, spec string, v Verdict, reason string) {
	// One line a clause: plugins' messages may span several.
	reason = strings.Join(strings.Fields(reason), " ")
	r.Clauses = append(r.Clauses, Clause{Name: name, Spec: spec, Verdict: v, Reason: reason})
}

// judge records a clause that passes when problems is empty, and fails
// with them otherwise.
func (r *Report) judge(name, spec string, problems []string, passNote string) {
	if len(problems) == 0 {
		r.add(name, spec, Pass, passNote)
		return
	}
	r.add(name, spec, Fail, strings.Join(problems, "; "))
}

// should is judge for a SHOULD of the spec: problems warn.
func (r *Report) should(name, spec string, problems []string, passNote string) {
	if len(problems) == 0 {
		r.add(name, spec, Pass, passNote)
		return
	}
	r.add(name, spec, Warn, strings.Join(problems, "; "))
}

// problems collects findings of one clause.
type problems []string

func (p *problems) addf(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

func (p *problems) err(what string, err error) {
	if err != nil {
		p.addf("%s: %v", what, err)
	}
}
