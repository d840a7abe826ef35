// Package tracetest checks `kinn trace -o json` output against the
// documented schema, lab/trace/journey.schema.json, for the tests of
// package trace and the end-to-end tests of the command.
package tracetest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

var (
	once   sync.Once
	schema *jsonschema.Schema
	err    error
)

// SchemaPath is the schema file, found from this source file (tests run
// in the source tree).
func SchemaPath() string {
	_, self, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(self), "..", "journey.schema.json")
}

// Validate checks one JSON document against the journey schema.
func Validate(doc []byte) error {
	once.Do(func() {
		var raw []byte
		if raw, err = os.ReadFile(SchemaPath()); err != nil {
			return
		}
		var s any
		if s, err = jsonschema.UnmarshalJSON(bytes.NewReader(raw)); err != nil {
			return
		}
		c := jsonschema.NewCompiler()
		if err = c.AddResource("journey.schema.json", s); err != nil {
			return
		}
		schema, err = c.Compile("journey.schema.json")
	})
	if err != nil {
		return fmt.Errorf("journey schema: %w", err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return err
	}
	return schema.Validate(v)
}
