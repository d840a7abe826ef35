package topology

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Scale sets spec.replicas of a Deployment in raw; namespace "" means
// "default". The document's text changes only where the number is (or
// gains one line), unless its layout is too unusual to edit in place.
func Scale(raw []byte, namespace, name string, replicas int) ([]byte, error) {
	if replicas < 0 {
		return nil, fmt.Errorf("replicas %d: must be 0 or more", replicas)
	}
	if namespace == "" {
		namespace = "default"
	}
	s, err := readRecorded(raw, recorded)
	if err != nil {
		return nil, err
	}
	i := s.find(objectID{"Deployment", namespace, name})
	if i < 0 {
		return nil, fmt.Errorf("deployment %q not found in namespace %q", name, namespace)
	}
	c := s.chunks[i]
	n := strconv.Itoa(replicas)
	text, ok := setReplicasText(c, n)
	if !ok {
		text = setReplicasTree(c, n)
	}
	s.chunks[i] = &chunk{text: text, line: c.line}
	return reparse(s)
}

// setReplicasText edits the number in place, or inserts a replicas line
// before the first field of a block-style spec.
func setReplicasText(c *chunk, n string) ([]byte, bool) {
	lines := bytes.SplitAfter(c.text, []byte("\n"))
	_, spec, _ := c.d.lookup(path{"spec"})
	_, val, found := c.d.lookup(path{"spec", "replicas"})
	switch {
	case found && val.Kind == yaml.ScalarNode && val.Style == 0:
		i, col := val.Line-c.line, val.Column-1
		if i < 0 || i >= len(lines) {
			return nil, false
		}
		line := []rune(string(lines[i]))
		if col+len(val.Value) > len(line) || string(line[col:col+len(val.Value)]) != val.Value {
			return nil, false
		}
		lines[i] = []byte(string(line[:col]) + n + string(line[col+len(val.Value):]))
	case !found && spec != nil && spec.Kind == yaml.MappingNode && spec.Style&yaml.FlowStyle == 0 && len(spec.Content) > 0:
		first := spec.Content[0]
		i := first.Line - c.line
		if i < 0 || i >= len(lines) {
			return nil, false
		}
		indent := []rune(string(lines[i]))[:min(first.Column-1, len([]rune(string(lines[i]))))]
		if strings.Trim(string(indent), " ") != "" {
			return nil, false
		}
		ins := []byte(string(indent) + "replicas: " + n + "\n")
		lines = append(lines[:i], append([][]byte{ins}, lines[i:]...)...)
	default:
		return nil, false
	}
	return bytes.Join(lines, nil), true
}

// setReplicasTree sets the number in the node tree and re-encodes the
// document: comments survive, formatting may not.
func setReplicasTree(c *chunk, n string) []byte {
	num := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: n}
	root := c.d.root
	_, spec, found := c.d.lookup(path{"spec"})
	if spec = deref(spec); !found || spec == nil || spec.Kind != yaml.MappingNode {
		spec = &yaml.Node{Kind: yaml.MappingNode}
		setField(root, "spec", spec)
	}
	setField(spec, "replicas", num)
	return encodeDoc(root)
}

// setField sets key in a mapping node, adding it at the end if absent.
func setField(m *yaml.Node, key string, val *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = val
			return
		}
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, val)
}
