package cli_test

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

// userSlices is a selectorless Service "ext", a headless one "exth", and
// a slice for each pointing at ips.
func userSlices(ips ...string) string {
	var eps strings.Builder
	for _, ip := range ips {
		fmt.Fprintf(&eps, "- addresses: [%q]\n", ip)
	}
	doc := `apiVersion: v1
kind: Service
metadata: {name: ext}
spec:
  ports: [{port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: exth}
spec:
  clusterIP: None
---
`
	for _, svc := range []string{"ext", "exth"} {
		doc += fmt.Sprintf(`apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: %s-1
  labels: {kubernetes.io/service-name: %s}
addressType: IPv4
endpoints:
%sports: [{port: 8080}]
---
`, svc, svc, eps.String())
	}
	return doc
}

// TestUserEndpointSlices: a Service without a selector sends its traffic,
// and its headless twin its DNS answers, to the addresses of the user's
// EndpointSlices, and follows them through `kinn apply` and `kinn delete`.
func TestUserEndpointSlices(t *testing.T) {
	e := newEnv(t, "eps")
	e.up("")
	var webs []string
	for _, p := range e.pods() {
		if strings.HasPrefix(p.Name, "web-") {
			webs = append(webs, p.Name)
		}
	}
	slices.Sort(webs)
	if len(webs) != 3 {
		t.Fatalf("web pods = %v, want 3", webs)
	}
	a, b, c := webs[0], webs[1], webs[2]
	follows := func(want ...string) {
		t.Helper()
		got := e.backends("client", "http://"+e.svcIP("ext")+"/hostname", 12)
		if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, want) {
			t.Errorf("12 requests to ext reached %v, want exactly %v", got, want)
		}
		var ips []string
		for _, p := range want {
			ips = append(ips, e.podIP(p))
		}
		slices.Sort(ips)
		var dig []string
		for range 10 { // the daemon rebuilds the zone a moment after apply
			if dig = e.dig("exth.default.svc.cluster.local"); slices.Equal(sorted(dig...), ips) {
				return
			}
			time.Sleep(300 * time.Millisecond)
		}
		t.Errorf("exth A = %v, want %v", dig, ips)
	}

	e.apply(userSlices(e.podIP(a), e.podIP(b)))
	follows(a, b)
	if out := e.must("get", "endpointslices", "--name", e.name); !strings.Contains(out, "ext-1") || !strings.Contains(out, e.podIP(a)) {
		t.Errorf("kinn get endpointslices does not list the user's slice ext-1:\n%s", out)
	}

	e.apply(userSlices(e.podIP(c)))
	follows(c)

	e.must("delete", "endpointslice", "ext-1", "--name", e.name)
	if _, code := e.curl("client", "http://"+e.svcIP("ext")+"/hostname"); code != 7 {
		t.Errorf("ext without its slice: curl exit %d, want 7 (connection refused)", code)
	}
}
