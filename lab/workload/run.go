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

// Nobody is the uid, and the gid, of a program whose pod names no user:
// nobody and nogroup.
const Nobody = 65534

// RunAs is who a pod's program runs as: its first container's
// securityContext runAsUser and runAsGroup, else the pod's, as in
// Kubernetes, else nobody. A group left unsaid is root's for root and
// nogroup for any other user (there is no image to take it from).
func RunAs(pod *corev1.Pod) (uid, gid int64) {
	uid, gid = -1, -1
	if sc := pod.Spec.SecurityContext; sc != nil {
		uid, gid = deref(sc.RunAsUser, uid), deref(sc.RunAsGroup, gid)
	}
	if sc := firstContainerSecurity(pod); sc != nil {
		uid, gid = deref(sc.RunAsUser, uid), deref(sc.RunAsGroup, gid)
	}
	if uid < 0 {
		uid = Nobody
	}
	if gid < 0 && uid == 0 {
		gid = 0
	} else if gid < 0 {
		gid = Nobody
	}
	return uid, gid
}

// Capabilities are the capabilities a pod's first container adds
// (securityContext.capabilities.add, NET_BIND_SERVICE or CAP_NET_BIND_SERVICE
// or ALL) and whether it is privileged. A program has no other: nothing
// is there for capabilities.drop to take away.
func Capabilities(pod *corev1.Pod) (add []string, privileged bool) {
	sc := firstContainerSecurity(pod)
	if sc == nil {
		return nil, false
	}
	if sc.Capabilities != nil {
		for _, c := range sc.Capabilities.Add {
			add = append(add, string(c))
		}
	}
	return add, sc.Privileged != nil && *sc.Privileged
}

// WorkingDir is where a pod's program starts: its first container's
// workingDir, else "/" (an image without WORKDIR starts there too).
func WorkingDir(pod *corev1.Pod) string {
	if len(pod.Spec.Containers) > 0 && pod.Spec.Containers[0].WorkingDir != "" {
		return pod.Spec.Containers[0].WorkingDir
	}
	return "/"
}

// firstContainerSecurity is the securityContext of the container whose
// place the program takes.
func firstContainerSecurity(pod *corev1.Pod) *corev1.SecurityContext {
	if len(pod.Spec.Containers) == 0 {
		return nil
	}
	return pod.Spec.Containers[0].SecurityContext
}

func deref(p *int64, def int64) int64 {
	if p == nil {
		return def
	}
	return *p
}
