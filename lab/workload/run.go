package workload

import (
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// RunAnnotation opts a pod out of the built-in netexec servers: its value is
// a command line the lab starts inside the pod's namespace instead.
const RunAnnotation = "kinn.dev/run"

// ParseRun returns the argv of a pod's kinn.dev/run annotation. ok is false
// when the pod has none, or when it does not parse (ValidateRun says why),
// so such a pod keeps the netexec servers.
func ParseRun(pod *corev1.Pod) (argv []string, ok bool) {
	line, ok := pod.Annotations[RunAnnotation]
	if !ok {
		return nil, false
	}
	argv, err := SplitCommand(line)
	return argv, err == nil
}

// ValidateRun reports a kinn.dev/run annotation that cannot be run, for
// topology validation to show before anything starts.
func ValidateRun(pod *corev1.Pod) error {
	line, ok := pod.Annotations[RunAnnotation]
	if !ok {
		return nil
	}
	if _, err := SplitCommand(line); err != nil {
		return fmt.Errorf("annotation %s: %w", RunAnnotation, err)
	}
	return nil
}

// SplitCommand splits a command line into words as a POSIX shell does for
// quoting alone: blanks separate words; '...' is literal; "..." is literal
// except that a backslash escapes $ ` " \ and newline; a backslash outside
// quotes escapes any character, and before a newline joins lines. No
// expansions, pipes or redirections: those characters are ordinary.
func SplitCommand(line string) ([]string, error) {
	var words []string
	var w strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words, inWord = append(words, w.String()), false
				w.Reset()
			}
		case c == '\'':
			end := strings.IndexByte(line[i+1:], '\'')
			if end < 0 {
				return nil, errors.New("unterminated single quote")
			}
			w.WriteString(line[i+1 : i+1+end])
			i, inWord = i+1+end, true
		case c == '"':
			n, err := doubleQuoted(line[i+1:], &w)
			if err != nil {
				return nil, err
			}
			i, inWord = i+n, true
		case c == '\\':
			if i+1 == len(line) {
				return nil, errors.New("backslash at the end of the line")
			}
			i++
			if line[i] != '\n' {
				w.WriteByte(line[i])
				inWord = true
			}
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	if len(words) == 0 {
		return nil, errors.New("empty command line")
	}
	return words, nil
}

// doubleQuoted copies the inside of a "..." word starting just after the
// opening quote and returns how many bytes it used, closing quote included.
func doubleQuoted(s string, w *strings.Builder) (int, error) {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			return i + 1, nil
		case '\\':
			if i+1 < len(s) && strings.IndexByte("$`\"\\\n", s[i+1]) >= 0 {
				i++
				if s[i] != '\n' {
					w.WriteByte(s[i])
				}
				continue
			}
		}
		w.WriteByte(s[i])
	}
	return 0, errors.New("unterminated double quote")
}
