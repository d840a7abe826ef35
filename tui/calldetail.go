package tui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"kinn.dev/kinn/lab/cni"
)

// callDetail is one CNI call in full, what `kinn cni log -o json` holds
// of it laid out to read: the verdict and exit status, the configuration
// the plugin got, what it printed (its result, or stdout that is not
// JSON, and its stderr line by line) and its CNI_* environment.
type callDetail struct {
	pager
	call *cni.Call
}

// sections are the detail's titled blocks, in order.
func (d *callDetail) sections() [][2]string {
	c := d.call
	exit := fmt.Sprint(c.ExitStatus)
	if c.Signal != "" {
		exit += " (signal " + c.Signal + ")"
	}
	head := fmt.Sprintf("outcome: %s\nexit:    %s\nplugin:  %s (binary %s), network %s\ntook:    %.1f ms",
		cni.Printable(c.Outcome()), exit, c.Plugin, c.Binary, c.Network, c.DurationMS)
	out := [][2]string{{"", head}, {"CONFIG", pretty(c.Config)}}
	if len(c.Result) > 0 {
		out = append(out, [2]string{"RESULT", pretty(c.Result)})
	}
	if c.Stdout != "" {
		out = append(out, [2]string{"STDOUT (not JSON)", cni.Printable(c.Stdout)})
	}
	if c.Error != nil {
		b, _ := json.Marshal(c.Error)
		out = append(out, [2]string{"ERROR (the plugin's)", pretty(b)})
	}
	if c.Stderr != "" {
		out = append(out, [2]string{"STDERR", cni.Printable(c.Stderr)})
	}
	env := make([]string, 0, len(c.Env))
	for k, v := range c.Env {
		env = append(env, k+"="+v)
	}
	slices.Sort(env)
	return append(out, [2]string{"ENV", strings.Join(env, "\n")})
}

// pretty is JSON indented, or the text as it is.
func pretty(b []byte) string {
	var buf bytes.Buffer
	if json.Indent(&buf, b, "", "  ") != nil {
		return string(b)
	}
	return buf.String()
}

// lines lays the call out for a width: long lines wrap, tabs become spaces.
func (d *callDetail) lines(st Styles, w int) []string {
	c := d.call
	title := fmt.Sprintf("CNI %s %s on %s by %s at %s", c.Command, c.Pod, c.Node, c.Plugin, c.Time.Format("15:04:05"))
	out := []string{st.Section.Render(clip("  "+strings.Join(strings.Fields(title), " ")+"   esc: back", w))}
	for _, s := range d.sections() {
		if s[0] != "" {
			out = append(out, "", st.Header.Render("  "+s[0]))
		}
		style := st.Status
		if s[0] == "" && !c.OK() || s[0] == "STDERR" {
			style = st.Bad
		}
		for _, l := range strings.Split(strings.TrimRight(s[1], "\n"), "\n") {
			for _, part := range wrap(strings.ReplaceAll(l, "\t", "    "), w-4) {
				out = append(out, style.Render("    "+part))
			}
		}
	}
	return out
}

// wrap cuts s into pieces of at most w runes.
func wrap(s string, w int) []string {
	r := []rune(s)
	if w <= 0 || len(r) <= w {
		return []string{s}
	}
	var out []string
	for len(r) > w {
		out = append(out, string(r[:w]))
		r = r[w:]
	}
	return append(out, string(r))
}

// view is the call, scrolled as the pager is.
func (d *callDetail) view(st Styles, w, h int) string { return d.pager.view(d.lines(st, w), h) }
