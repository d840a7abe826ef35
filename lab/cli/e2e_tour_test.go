package cli_test

import (
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// tourStep is one command of the README's tour and the lines it shows.
type tourStep struct {
	args []string
	want []string
}

// readmeTour parses the README's "A one-minute tour": its first console
// block, "$ sudo ./kinn ARGS  # comment" lines followed by their output.
func readmeTour(t *testing.T) []tourStep {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(b), "\n## A one-minute tour\n")
	_, block, ok2 := strings.Cut(sec, "```console\n")
	block, _, ok3 := strings.Cut(block, "\n```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("README has no console block under ## A one-minute tour")
	}
	var steps []tourStep
	for _, line := range strings.Split(block, "\n") {
		if cmd, ok := strings.CutPrefix(line, "$ sudo ./kinn "); ok {
			if i := strings.Index(cmd, "  #"); i >= 0 {
				cmd = cmd[:i]
			}
			steps = append(steps, tourStep{args: strings.Fields(cmd)})
		} else if len(steps) > 0 && strings.TrimSpace(line) != "" {
			steps[len(steps)-1].want = append(steps[len(steps)-1].want, line)
		}
	}
	return steps
}

// What differs from run to run: generated pod names, veth names, timings,
// a source port, and which web pod answers.
var tourVolatile = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`\b(web|coredns)-[a-z0-9]{8,10}-[a-z0-9]{5}\b`), "$1-HASH"},
	{regexp.MustCompile(`\d+\.\d\ds\b`), "N.NNs"},
	// A pod's veth in its node is named after its container ID, which
	// comes from the lab's name.
	{regexp.MustCompile(`\bveth[0-9a-f]{8}\b`), "vethHASH"},
	// A NodePort client is masqueraded to the node's cni0 (.1) or, when
	// the endpoint is on another node, VXLAN (.0) address.
	{regexp.MustCompile(`(10\.244\.\d+)\.[01]:\d+`), "$1.x:PORT"},
}

// normalize puts the lab's name back to the README's kinn, blurs what
// differs between runs and collapses column padding.
func normalize(s, name string) string {
	s = strings.ReplaceAll(s, name, "kinn")
	for _, v := range tourVolatile {
		s = v.re.ReplaceAllString(s, v.with)
	}
	return strings.Join(strings.Fields(s), " ")
}

// TestReadmeTour runs the README's tour, as written, on a lab of its own
// (chosen with KINN_LAB) and checks that, for every command whose output
// the README shows, it shows the lines kinn prints, all of them and no
// others, bar what differs from run to run: the README must change with
// kinn's output.
func TestReadmeTour(t *testing.T) {
	e := newEnv(t, "tour")
	steps := readmeTour(t)
	if len(steps) < 10 {
		t.Fatalf("the tour has %d commands; parsed wrong?", len(steps))
	}
	web := regexp.MustCompile(`^web-[a-z0-9]{8,10}-[a-z0-9]{5}$`)
	for _, s := range steps {
		args := append([]string{}, s.args...)
		for i, a := range args {
			if web.MatchString(a) {
				args[i] = e.webPod(t) // the README's generated name is the one web pod left
			}
		}
		cmd := kinnCmd(e.dirs, args...)
		cmd.Env = append(os.Environ(), "KINN_LAB="+e.name)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			if _, ok := err.(*exec.ExitError); !ok {
				t.Fatal(err)
			}
			t.Errorf("kinn %s: %v\n%s", strings.Join(args, " "), err, out.String())
			continue
		}
		if len(s.want) == 0 {
			continue // the README shows no output: nothing to compare
		}
		got, want := lineSet(out.String(), e.name), lineSet(strings.Join(s.want, "\n"), "kinn")
		elided := false // a README line "... (words)" stands for lines it leaves out
		for l := range want {
			if strings.HasPrefix(l, "...") {
				delete(want, l)
				elided = true
			}
		}
		for l := range want {
			if !got[l] {
				t.Errorf("kinn %s: the README shows %q, kinn printed:\n%s", strings.Join(s.args, " "), l, out.String())
			}
		}
		for l := range got {
			if !want[l] && !elided {
				t.Errorf("kinn %s: kinn printed %q, which the README does not show", strings.Join(s.args, " "), l)
			}
		}
	}
}

// lineSet is the normalized non-empty lines of an output.
func lineSet(s, name string) map[string]bool {
	set := map[string]bool{}
	for _, l := range strings.Split(s, "\n") {
		if n := normalize(l, name); n != "" {
			set[n] = true
		}
	}
	return set
}

// webPod is the name of the first web pod of the lab.
func (e *env) webPod(t *testing.T) string {
	for _, p := range e.pods() {
		if strings.HasPrefix(p.Name, "web-") {
			return p.Name
		}
	}
	t.Fatal("no web pod")
	return ""
}
