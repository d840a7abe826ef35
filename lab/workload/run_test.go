package workload

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestSplitCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{in: "iperf3 -s", want: []string{"iperf3", "-s"}},
		{in: "  a \t b\nc  ", want: []string{"a", "b", "c"}},
		{in: `sh -c 'echo $HOME; ls "x"'`, want: []string{"sh", "-c", `echo $HOME; ls "x"`}},
		{in: `echo "a \"b\" \$c \\ \n"`, want: []string{"echo", `a "b" $c \ \n`}},
		{in: `a\ b c\\d \'e`, want: []string{"a b", `c\d`, "'e"}},
		{in: `x'y'"z" '' ""`, want: []string{"xyz", "", ""}},
		{in: "one\\\ntwo", want: []string{"onetwo"}},
		{in: `"line\` + "\n" + `joined"`, want: []string{"linejoined"}},
		{in: `"a"b "c" d`, want: []string{"ab", "c", "d"}},
		{in: "a | b > c", want: []string{"a", "|", "b", ">", "c"}},
		{in: `'open`, wantErr: true},
		{in: `"open`, wantErr: true},
		{in: `"open\"`, wantErr: true},
		{in: `trailing\`, wantErr: true},
		{in: "   ", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := SplitCommand(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseRun(t *testing.T) {
	t.Parallel()
	pod := func(ann map[string]string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Annotations: ann}}
	}
	tests := []struct {
		name    string
		pod     *corev1.Pod
		want    []string
		ok      bool
		invalid bool
	}{
		{"no annotation", pod(nil), nil, false, false},
		{"other annotation", pod(map[string]string{"x": "y"}), nil, false, false},
		{"command", pod(map[string]string{RunAnnotation: "python3 -m http.server 8080"}), []string{"python3", "-m", "http.server", "8080"}, true, false},
		{"broken quoting", pod(map[string]string{RunAnnotation: "sh -c 'oops"}), nil, false, true},
		{"empty", pod(map[string]string{RunAnnotation: ""}), nil, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := ParseRun(tt.pod)
			if ok != tt.ok || !slices.Equal(got, tt.want) {
				t.Errorf("got %q, %v; want %q, %v", got, ok, tt.want, tt.ok)
			}
			if err := ValidateRun(tt.pod); (err != nil) != tt.invalid {
				t.Errorf("ValidateRun = %v, want invalid %v", err, tt.invalid)
			}
		})
	}
}
