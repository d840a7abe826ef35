package topology

import (
	"encoding"
	"encoding/json"
	"errors"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The strict walker checks a document's node tree against the Go type it
// will be decoded into, before decoding. encoding/json can reject unknown
// fields, but it reports neither the line nor every unknown field, and
// matches keys case-insensitively; walking the tree ourselves gives one
// positioned problem per unknown key and per mistyped value.
//
// Struct tags drive it: `json` names the fields (",inline" and untagged
// embedded structs are flattened, as encoding/json does), `kinn:"ignore"`
// marks kind fields that only make sense for containers (a warning), and
// `kinn:"kinn"` marks fields only kinn.dev/v1alpha1 accepts.

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

type field struct {
	typ    reflect.Type
	ignore bool // container-only kind field: warn and skip
	kinn   bool // only valid in kinn's apiVersion
}

type walker struct {
	d    *doc
	r    *report
	kinn bool // the document is kinn.dev/v1alpha1
	bad  bool // some problem was reported
}

func (w *walker) errorf(n *yaml.Node, format string, args ...any) {
	w.bad = true
	w.r.errorf(w.d.pos(n), format, args...)
}

func (w *walker) walk(n *yaml.Node, t reflect.Type, p path) {
	n = deref(n)
	if n == nil || n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // null is the zero value of anything
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(jsonUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler) {
		w.custom(n, t, p)
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		w.structure(n, t, p)
	case reflect.Map:
		if w.expect(n, yaml.MappingNode, "a mapping", p) {
			for i := 0; i+1 < len(n.Content); i += 2 {
				w.walk(n.Content[i+1], t.Elem(), p.with(n.Content[i].Value))
			}
		}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			w.scalar(n, p, "a base64 string", "!!str")
			return
		}
		if w.expect(n, yaml.SequenceNode, "a list", p) {
			for i, e := range n.Content {
				w.walk(e, t.Elem(), p.with(i))
			}
		}
	case reflect.String:
		w.scalar(n, p, "a string", "!!str")
	case reflect.Bool:
		w.scalar(n, p, "true or false", "!!bool")
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		w.integer(n, t, p)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		w.integer(n, t, p)
	case reflect.Float32, reflect.Float64:
		w.scalar(n, p, "a number", "!!int", "!!float")
	}
	// Interfaces accept anything.
}

func (w *walker) expect(n *yaml.Node, kind yaml.Kind, what string, p path) bool {
	if n.Kind != kind {
		w.errorf(n, "%s must be %s, not %s", p, what, describe(n))
		return false
	}
	return true
}

func (w *walker) scalar(n *yaml.Node, p path, what string, tags ...string) bool {
	if n.Kind == yaml.ScalarNode {
		for _, tag := range tags {
			if n.Tag == tag {
				return true
			}
		}
	}
	w.errorf(n, "%s must be %s, not %s", p, what, describe(n))
	return false
}

func (w *walker) integer(n *yaml.Node, t reflect.Type, p path) {
	if !w.scalar(n, p, "an integer", "!!int") {
		return
	}
	v := reflect.New(t)
	if err := n.Decode(v.Interface()); err != nil {
		w.errorf(n, "%s: %s does not fit in %s", p, n.Value, t.Kind())
	}
}

// custom decodes a value whose type parses itself (quantities, int-or-string,
// times) on its own, so that its error is reported where the value is.
func (w *walker) custom(n *yaml.Node, t reflect.Type, p path) {
	var scratch report
	v, ok := newConverter(w.d, &scratch).value(n, 0)
	if !ok {
		return // the document-wide conversion reports it
	}
	data, err := json.Marshal(v)
	if err == nil {
		err = json.Unmarshal(data, reflect.New(t).Interface())
	}
	if err != nil {
		w.errorf(n, "%s: %s", p, jsonMessage(err))
	}
}

func (w *walker) structure(n *yaml.Node, t reflect.Type, p path) {
	if !w.expect(n, yaml.MappingNode, "a mapping", p) {
		return
	}
	fields := jsonFields(t)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		f, ok := fields[k.Value]
		switch {
		case !ok:
			w.errorf(k, "unknown field %q", p.with(k.Value).String())
		case f.kinn && !w.kinn:
			w.errorf(k, "unknown field %q (only apiVersion %s has it)", p.with(k.Value).String(), kinnAPIVersion)
		case f.ignore:
			w.r.warnf(w.d.pos(k), "ignoring %s: kinn runs no containers", p.with(k.Value))
		default:
			w.walk(v, f.typ, p.with(k.Value))
		}
	}
}

// jsonFields lists the JSON names a struct decodes, the way encoding/json
// sees them.
func jsonFields(t reflect.Type) map[string]field {
	out := make(map[string]field)
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous && (name == "" || strings.Contains(opts, "inline")) && ft.Kind() == reflect.Struct {
			for k, v := range jsonFields(ft) {
				out[k] = v
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		kt := f.Tag.Get("kinn")
		out[name] = field{typ: f.Type, ignore: kt == "ignore", kinn: kt == "kinn"}
	}
	return out
}

// decode checks d strictly and decodes it into out (a pointer), reporting
// every problem. Unknown and mistyped fields are left out of out rather
// than stopping it, so that the rest of the file can still be checked; it
// returns false only when out could not be decoded at all.
func decode(d *doc, r *report, out any, kinn bool) bool {
	v, ok := newConverter(d, r).value(d.root, 0)
	if !ok {
		return false
	}
	w := &walker{d: d, r: r, kinn: kinn}
	w.walk(d.root, reflect.TypeOf(out), nil)
	data, err := json.Marshal(v)
	if err == nil {
		err = json.Unmarshal(data, out)
	}
	if err != nil && !w.bad {
		// The walker should have caught it; point near it if it did not.
		r.errorf(fieldPos(d, err), "%s", jsonMessage(err))
	}
	return true
}

// fieldPos is the best guess at where a JSON decoding error is, from the
// dotted field path encoding/json reports (without list indexes).
func fieldPos(d *doc, err error) Pos {
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) || te.Field == "" {
		return d.pos(d.root)
	}
	n := d.root
	for _, name := range strings.Split(te.Field, ".") {
		next := findKey(deref(n), name)
		if next == nil {
			break
		}
		n = next
	}
	return d.pos(n)
}

// findKey finds name in a mapping, or in the first element of a list that
// has it.
func findKey(n *yaml.Node, name string) *yaml.Node {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.SequenceNode {
		for _, e := range n.Content {
			if v := findKey(deref(e), name); v != nil {
				return v
			}
		}
		return nil
	}
	_, v := child(n, name)
	return v
}

func jsonMessage(err error) string {
	return strings.TrimPrefix(err.Error(), "json: ")
}
