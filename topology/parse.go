package topology

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

//go:embed default.yaml
var defaultYAML []byte

// DefaultYAML is the embedded default topology, for "kinn init"-style use.
func DefaultYAML() []byte { return bytes.Clone(defaultYAML) }

// Default resolves the embedded default topology.
func Default() (*Lab, []Warning, error) { return Parse("<default>", defaultYAML) }

// Load reads and resolves the topology file at path. Validation problems
// come back as Problems; failing to read the file as a wrapped error.
func Load(path string) (*Lab, []Warning, error) {
	data, err := ReadFile(context.Background(), path)
	if err != nil {
		return nil, nil, fmt.Errorf("read topology: %w", err)
	}
	return Parse(path, data)
}

// Parse resolves a topology file's content; file is only used in positions.
// Every problem in the file is reported at once, as Problems; warnings come
// back even when there are problems.
func Parse(file string, data []byte) (*Lab, []Warning, error) {
	return ParseLive(file, data, Live{})
}

// Live is what a running lab adds to its file when it is resolved again.
type Live struct {
	Placed map[string]string // pod key -> the node it runs on
	// Retired are pod keys a workload may not use again: deleted pods,
	// which their controller replaces under a new name, as Kubernetes does.
	Retired map[string]bool
}

// ParseLive resolves a running lab's file with what the lab adds to it: a
// pod in live.Placed that still fits on its node stays there, as a
// scheduled pod does in Kubernetes; pods new to the lab are placed as usual.
func ParseLive(file string, data []byte, live Live) (*Lab, []Warning, error) {
	r := &report{}
	docs := splitDocuments(file, data, r)
	lab := resolve(file, docs, r, live)
	warns := sortProblems(r.warns)
	if len(r.errs) > 0 {
		return nil, warns, Problems(sortProblems(r.errs))
	}
	return lab, warns, nil
}

// splitDocuments reads the YAML stream into one node tree per non-empty
// document. A syntax error ends the stream: the parser cannot resync.
func splitDocuments(file string, data []byte, r *report) []*doc {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*doc
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			r.errs = append(r.errs, syntaxProblem(file, err))
			return docs
		}
		if len(n.Content) == 0 {
			continue
		}
		root := n.Content[0]
		if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
			continue
		}
		d := &doc{file: file, root: root}
		if deref(root) == nil || deref(root).Kind != yaml.MappingNode {
			r.errorf(d.pos(root), "a document must be a mapping with apiVersion and kind, not %s", describe(root))
			continue
		}
		d.root = deref(root)
		docs = append(docs, d)
	}
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func syntaxProblem(file string, err error) Problem {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return Problem{Pos{file, line, 1}, m[2]}
	}
	return Problem{Pos{file, 1, 1}, strings.TrimPrefix(msg, "yaml: ")}
}
