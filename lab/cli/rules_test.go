package cli

import (
	"bytes"
	"strings"
	"testing"

	"kinn.dev/kinn/lab"
	"kinn.dev/kinn/lab/proxy"
)

// TestTableSectionFits: the TABLE section of `kinn rules` shows every
// object with its figure and whole meaning, within 100 columns.
func TestTableSectionFits(t *testing.T) {
	t.Parallel()
	var objs []lab.TableObjectView
	pkts, elems, count := uint64(12345678), 42, 3
	for _, m := range proxy.Meanings() {
		o := lab.TableObjectView{Name: m.Name, Kind: m.Kind, KubeProxy: m.KubeProxy, Short: m.Short, Meaning: m.Text}
		switch {
		case m.PerService:
			o.Name, o.Count = m.Name+"*", &count
		case m.Kind == "chain":
			o.Packets, o.Hook = &pkts, "filter prerouting -110"
		default:
			o.Elements = &elems
		}
		objs = append(objs, o)
	}
	var b bytes.Buffer
	printTableObjects(&b, objs)
	out := b.String()
	for _, l := range strings.Split(out, "\n") {
		if len(l) > 100 {
			t.Errorf("line of %d columns: %q", len(l), l)
		}
	}
	flat := strings.Join(strings.Fields(out), " ")
	for _, o := range objs {
		if !strings.Contains(flat, o.Meaning) {
			t.Errorf("%s's meaning not shown whole", o.Name)
		}
	}
	for _, want := range []string{"12345678 pkts", "42 elements", "3 chains", "(kube-proxy: reject-chain)"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	if testing.Verbose() {
		t.Log("\n" + out)
	}
}
