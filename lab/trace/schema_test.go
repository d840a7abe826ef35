package trace

import (
	"strings"
	"testing"

	"kinn.dev/kinn/lab/trace/tracetest"
)

func validateJourney(doc []byte) error { return tracetest.Validate(doc) }

// TestSchema: the schema takes a journey as WriteJSON writes it and
// refuses one that leaves it: an unknown component, verdict or owner
// kind, a missing field, a field it does not document.
func TestSchema(t *testing.T) {
	good := string(validJourneyJSON(t))
	if err := validateJourney([]byte(good)); err != nil {
		t.Fatalf("a valid journey is refused: %v\n%s", err, good)
	}
	for _, c := range []struct{ name, old, new string }{
		{"unknown component", `"component":"route"`, `"component":"teleport"`},
		{"missing action", `,"action":"a"`, ``},
		{"missing namespace", `"namespace":"n",`, ``},
		{"unknown verdict", `"verdict":"delivered"`, `"verdict":"lost"`},
		{"undocumented field", `"action":"a"`, `"action":"a","hook":"prerouting"`},
		{"unknown owner kind", `"action":"a"`, `"action":"a","owner":{"kind":"Deployment","name":"web"}`},
		{"owner without name", `"action":"a"`, `"action":"a","owner":{"kind":"Pod"}`},
		{"missing reply", `,"reply":[]`, ``},
	} {
		bad := strings.Replace(good, c.old, c.new, 1)
		if bad == good {
			t.Fatalf("%s: %q not in %s", c.name, c.old, good)
		}
		if err := validateJourney([]byte(bad)); err == nil {
			t.Errorf("%s: accepted %s", c.name, bad)
		}
	}
}
