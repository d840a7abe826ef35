package proxy

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestServiceHealthAnswer checks the answer of kube-proxy's service health
// server (pkg/proxy/healthcheck/service_health.go): the Service's name,
// the local endpoints in the body and the weight header, 200 only with
// local endpoints and a healthy proxy.
func TestServiceHealthAnswer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		local   int
		healthy bool
		status  int
	}{
		{"local endpoints", 2, true, 200},
		{"no local endpoint", 0, true, 503},
		{"proxy unhealthy", 1, false, 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := HealthCheck{NodePort: 32000, LocalEndpoints: tt.local, Services: []string{"shop/web"}}
			a := c.Answer(tt.healthy)
			if a.Status != tt.status || a.Weight != tt.local {
				t.Errorf("status %d weight %d, want %d %d", a.Status, a.Weight, tt.status, tt.local)
			}
			var body map[string]any
			if err := json.Unmarshal([]byte(a.Body), &body); err != nil {
				t.Fatalf("body %q: %v", a.Body, err)
			}
			want := map[string]any{
				"service":             map[string]any{"namespace": "shop", "name": "web"},
				"localEndpoints":      float64(tt.local),
				"serviceProxyHealthy": tt.healthy,
			}
			if !reflect.DeepEqual(body, want) {
				t.Errorf("body = %s, want %v", a.Body, want)
			}
		})
	}
}
