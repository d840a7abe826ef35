package conformance

import (
	"strings"
	"testing"
)

func TestErrorProblems(t *testing.T) {
	for _, tc := range []struct {
		out  string
		exit int
		want string // "" for none
	}{
		{`{"code": 7, "msg": "bad", "details": "x"}`, 1, ""},
		{`{"code": 120, "msg": "mine"}`, 1, ""},
		{`{"code": 7, "msg": "bad"}`, 0, "exit status 0"},
		{``, 1, "no error object"},
		{`boom`, 1, "not a JSON object"},
		{`{"msg": "bad"}`, 1, `no "code"`},
		{`{"code": 42, "msg": "bad"}`, 1, "reserved"},
		{`{"code": 7}`, 1, `no "msg"`},
		{`{"code": 7, "msg": "m", "details": 3}`, 1, `"details" is not a string`},
	} {
		got := strings.Join(errorProblems([]byte(tc.out), tc.exit), "; ")
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s (exit %d): %q, want %q", tc.out, tc.exit, got, tc.want)
		}
	}
}

func TestResultAndChaining(t *testing.T) {
	good := `{"cniVersion": "1.1.0", "interfaces": [{"name": "cni0"}, {"name": "eth0", "sandbox": "/run/netns/c"}],
	  "ips": [{"address": "10.0.0.2/24", "gateway": "10.0.0.1", "interface": 1}], "routes": [{"dst": "0.0.0.0/0"}]}`
	if p := resultProblems([]byte(good), "1.1.0", "eth0", "/run/netns/c", true); len(p) > 0 {
		t.Errorf("good result: %v", p)
	}
	for _, tc := range []struct{ res, want string }{
		{strings.Replace(good, `"interface": 1`, `"interface": 5`, 1), "not an index"},
		{strings.Replace(good, `"gateway": "10.0.0.1"`, `"gateway": "fd00::1"`, 1), "family"},
		{strings.Replace(good, `"1.1.0"`, `"1.0.0"`, 1), "cniVersion"},
		{strings.Replace(good, `"sandbox": "/run/netns/c"`, `"sandbox": "/elsewhere"`, 1), "no interface eth0"},
	} {
		if got := strings.Join(resultProblems([]byte(tc.res), "1.1.0", "eth0", "/run/netns/c", true), "; "); !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.res, got, tc.want)
		}
	}
	old := `{"cniVersion": "0.3.1", "ips": [{"version": "6", "address": "10.0.0.2/24"}]}`
	if got := strings.Join(resultProblems([]byte(old), "0.3.1", "eth0", "/c", true), "; "); !strings.Contains(got, "ips[0].version") {
		t.Errorf("0.3.1 result with a wrong ips[].version: %q", got)
	}
	own := `{"cniVersion": "1.1.0", "interfaces": [{"name": "eth0", "sandbox": "/run/netns/c"}]}`
	got := strings.Join(chainingProblems([]byte(good), []byte(own), "1.1.0"), "; ")
	for _, want := range []string{"dropped interface cni0", "dropped address 10.0.0.2/24", "dropped route 0.0.0.0/0"} {
		if !strings.Contains(got, want) {
			t.Errorf("chaining: %q lacks %q", got, want)
		}
	}
	if p := chainingProblems([]byte(good), []byte(good), "1.1.0"); len(p) > 0 {
		t.Errorf("a plugin passing prevResult on: %v", p)
	}
}

func TestDiffLines(t *testing.T) {
	got := diffLines([]string{"a", "b", "b"}, []string{"b", "a", "b", "b", "c"})
	if strings.Join(got, ",") != "b,c" {
		t.Errorf("diffLines: %v", got)
	}
}
