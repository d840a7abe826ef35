package trace

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// The DNS query's journey comes before the journey to the name it
// resolved, in the text and as the "dns" field of the JSON; a journey
// without one has no "dns" field at all.
func TestWriteDNS(t *testing.T) {
	hop := func(ns, action string) Hop { return Hop{Namespace: ns, Component: CompRoute, Action: action} }
	j := Journey{Verdict: Delivered, Summary: "10.96.1.1:80 answered TCP", Request: []Hop{hop("a", "to the Service")}, Reply: []Hop{}}
	j.DNS = &Journey{Verdict: Delivered, Summary: "web.default.svc.cluster.local. A? from pod default/client: A 10.96.1.1",
		Request: []Hop{hop("a", "to kube-dns")}, Reply: []Hop{hop("b", "the answer back")}}
	var text bytes.Buffer
	WriteText(&text, "title", j, false)
	out := text.String()
	order := []string{"DNS QUERY", "to kube-dns", "DNS ANSWER", "the answer back", "✓ DNS DELIVERED: web.default", "REQUEST", "to the Service", "✓ DELIVERED"}
	at := 0
	for _, s := range order {
		i := strings.Index(out[at:], s)
		if i < 0 {
			t.Fatalf("%q not found in order in:\n%s", s, out)
		}
		at += i
	}
	var b bytes.Buffer
	WriteJSON(&b, j)
	var m map[string]json.RawMessage
	json.Unmarshal(b.Bytes(), &m)
	var d Journey
	if err := json.Unmarshal(m["dns"], &d); err != nil || d.Summary != j.DNS.Summary || len(d.Request) != 1 {
		t.Errorf("dns field %s: %v", m["dns"], err)
	}
	j.DNS = nil
	b.Reset()
	WriteJSON(&b, j)
	if strings.Contains(b.String(), `"dns"`) {
		t.Errorf("a journey without a DNS query has a dns field:\n%s", b.String())
	}
}
