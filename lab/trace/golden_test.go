package trace

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/journeys/*.golden.* from the recorded inputs")

// TestGolden tells recorded journeys (real traces, `kinn trace --record`:
// see lab/cli's TestTraceRecord) again and compares the text form, with
// and without -v, and the JSON form with the golden files. After a change
// to how journeys are told: `go test ./lab/trace -update`, then read the
// diff.
func TestGolden(t *testing.T) {
	inputs, _ := filepath.Glob("testdata/journeys/*.input.json")
	if len(inputs) == 0 {
		t.Fatal("no recorded journeys in testdata/journeys")
	}
	for _, f := range inputs {
		name := strings.TrimSuffix(filepath.Base(f), ".input.json")
		t.Run(name, func(t *testing.T) {
			rec := readRecording(t, f)
			j := Explain(rec.Input)
			var text, verbose, js bytes.Buffer
			WriteText(&text, rec.Title, j, false)
			WriteText(&verbose, rec.Title, j, true)
			if err := WriteJSON(&js, j); err != nil {
				t.Fatal(err)
			}
			base := strings.TrimSuffix(f, ".input.json")
			golden(t, base+".golden.txt", text.Bytes())
			golden(t, base+".golden-v.txt", verbose.Bytes())
			golden(t, base+".golden.json", js.Bytes())
			if err := validateJourney(js.Bytes()); err != nil {
				t.Errorf("the journey does not validate against journey.schema.json: %v", err)
			}
		})
	}
}

// TestRecordingRoundTrip: a recording read and written again is the same
// input (the rules' expressions, the struct-keyed maps included).
func TestRecordingRoundTrip(t *testing.T) {
	inputs, _ := filepath.Glob("testdata/journeys/*.input.json")
	for _, f := range inputs {
		rec := readRecording(t, f)
		var b bytes.Buffer
		if err := WriteRecording(&b, rec); err != nil {
			t.Fatal(err)
		}
		again, err := ReadRecording(&b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(again, rec) {
			t.Errorf("%s: written and read again, the recording differs", f)
		}
		if len(rec.Input.Events) == 0 || len(rec.Input.Rules) == 0 {
			t.Errorf("%s: no events or no rules read back", f)
		}
	}
}

func readRecording(t *testing.T, f string) Recording {
	t.Helper()
	r, err := os.Open(f)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rec, err := ReadRecording(r)
	if err != nil {
		t.Fatalf("%s: %v", f, err)
	}
	return rec
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./lab/trace -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test ./lab/trace -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// validJourneyJSON is a JSON document of a journey, for the schema test.
func validJourneyJSON(t *testing.T) []byte {
	t.Helper()
	b, err := json.Marshal(Journey{Verdict: Delivered, Summary: "s", Request: []Hop{{Namespace: "n", Component: CompRoute, Action: "a"}}, Reply: []Hop{}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
