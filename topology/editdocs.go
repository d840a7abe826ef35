package topology

// Live edits change the YAML a lab was brought up from, document by
// document, so that everything the user wrote — comments, key order, flow
// style — survives in the documents an edit does not touch. A stream is cut
// into chunks of text at its "---" lines (YAML forbids "---" at the start
// of a line inside a document, even in block scalars, so the cut is exact);
// an edit swaps, drops or appends chunks and only re-encodes a document
// when it cannot change its text in place.

import (
	"bytes"
	"errors"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
)

// A chunk is the text of one document of a stream, from its "---" line (if
// it has one) up to the next one; comments before a "---" belong to the
// chunk above it.
type chunk struct {
	text []byte
	line int  // the file line its text starts on
	d    *doc // nil for a chunk holding no document (comments, an empty "---")
}

// objectID is what an applied object replaces: Kubernetes identifies
// objects by kind, namespace and name, whatever the apiVersion.
type objectID struct{ kind, namespace, name string }

// stream is a topology file cut into chunks.
type stream struct {
	file   string
	chunks []*chunk
}

// readStream cuts data into chunks and reads their documents, reporting
// syntax errors and non-mapping documents as Problems of file.
func readStream(file string, data []byte) (*stream, error) {
	r := &report{}
	docs := splitDocuments(file, data, r)
	if len(r.errs) > 0 {
		return nil, Problems(sortProblems(r.errs))
	}
	s := &stream{file: file, chunks: cut(data)}
	// Pair chunks with the decoder's documents, which carry positions in
	// the whole file. If the cut disagrees with the decoder (directives,
	// "..." followed by a bare document), fall back to one re-encoded chunk
	// per document: content survives, formatting may not.
	k := 0
	for _, c := range s.chunks {
		switch n, ok := countDocs(c.text); {
		case !ok || n > 1 || n == 1 && k == len(docs):
			return s.reencoded(docs), nil
		case n == 1:
			c.d = docs[k]
			k++
		}
	}
	if k != len(docs) {
		return s.reencoded(docs), nil
	}
	return s, nil
}

// cut splits data before every line that starts a document ("---" alone or
// followed by a space).
func cut(data []byte) []*chunk {
	var out []*chunk
	cur := &chunk{line: 1}
	for i, l := range bytes.SplitAfter(data, []byte("\n")) {
		if isDocStart(l) && len(cur.text) > 0 {
			out = append(out, cur)
			cur = &chunk{line: i + 1}
		}
		cur.text = append(cur.text, l...)
	}
	if len(cur.text) > 0 {
		out = append(out, cur)
	}
	return out
}

func isDocStart(line []byte) bool {
	rest, ok := bytes.CutPrefix(line, []byte("---"))
	return ok && (len(rest) == 0 || strings.ContainsRune(" \t\r\n", rune(rest[0])))
}

// countDocs counts the non-empty documents in text.
func countDocs(text []byte) (int, bool) {
	dec := yaml.NewDecoder(bytes.NewReader(text))
	n := 0
	for {
		var node yaml.Node
		err := dec.Decode(&node)
		if errors.Is(err, io.EOF) {
			return n, true
		}
		if err != nil {
			return 0, false
		}
		if len(node.Content) > 0 && !(node.Content[0].Kind == yaml.ScalarNode && node.Content[0].Tag == "!!null") {
			n++
		}
	}
}

func (s *stream) reencoded(docs []*doc) *stream {
	s.chunks = nil
	for _, d := range docs {
		s.chunks = append(s.chunks, &chunk{text: encodeDoc(d.root), line: d.root.Line, d: d})
	}
	return s
}

// encodeDoc writes one document with kinn's usual two-space indentation.
func encodeDoc(root *yaml.Node) []byte {
	var b bytes.Buffer
	b.WriteString("---\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		// A tree that came out of the decoder always encodes.
		panic("topology: re-encoding a decoded document: " + err.Error())
	}
	enc.Close()
	return b.Bytes()
}

// bytes joins the chunks back into a stream: every chunk ends its line,
// and every chunk after the first starts with "---".
func (s *stream) bytes() []byte {
	var b bytes.Buffer
	for _, c := range s.chunks {
		if b.Len() > 0 && !startsDoc(c.text) {
			b.WriteString("---\n")
		}
		b.Write(c.text)
		if len(c.text) > 0 && c.text[len(c.text)-1] != '\n' {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

func startsDoc(text []byte) bool {
	line, _, _ := bytes.Cut(text, []byte("\n"))
	return isDocStart(line)
}

// docs lists the chunks' documents.
func (s *stream) docs() []*doc {
	var out []*doc
	for _, c := range s.chunks {
		if c.d != nil {
			out = append(out, c.d)
		}
	}
	return out
}

// id reads a document's identity; ok is false when it has none (no kind
// or name: validation reports those).
func (c *chunk) id() (objectID, bool) {
	if c.d == nil {
		return objectID{}, false
	}
	kind := scalarAt(c.d, "kind")
	name := scalarAt(c.d, "metadata", "name")
	if kind == "" || name == "" {
		return objectID{}, false
	}
	ns := scalarAt(c.d, "metadata", "namespace")
	switch {
	case kind == "Namespace":
		ns = ""
	case ns == "":
		ns = "default"
	}
	return objectID{kind, ns, name}, true
}

// isCluster reports whether the chunk is a cluster document.
func (c *chunk) isCluster() bool {
	if c.d == nil {
		return false
	}
	api := scalarAt(c.d, "apiVersion")
	return scalarAt(c.d, "kind") == "Cluster" && (strings.HasPrefix(api, "kind.x-k8s.io/") || strings.HasPrefix(api, "kinn.dev/"))
}

func scalarAt(d *doc, p ...any) string {
	_, v, found := d.lookup(p)
	if v = deref(v); !found || v == nil || v.Kind != yaml.ScalarNode {
		return ""
	}
	return v.Value
}

// find returns the index of the chunk holding id, or -1.
func (s *stream) find(id objectID) int {
	for i, c := range s.chunks {
		if got, ok := c.id(); ok && got == id {
			return i
		}
	}
	return -1
}

// check resolves docs as one topology and returns its problems. Each
// document keeps the positions of the file it came from, so a problem in an
// applied object points into the applied file.
func check(docs []*doc) error {
	r := &report{}
	resolve("", docs, r, Live{})
	if len(r.errs) > 0 {
		return Problems(sortProblems(r.errs))
	}
	return nil
}
