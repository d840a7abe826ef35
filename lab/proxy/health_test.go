package proxy

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
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

// TestProxyHealthAnswer checks kube-proxy's /healthz and /livez answers
// (pkg/proxy/healthcheck/proxy_health.go): 200 with lastUpdated = now
// while healthy, 503 with the last good sync's time otherwise, and
// nodeEligible on /healthz only.
func TestProxyHealthAnswer(t *testing.T) {
	t.Parallel()
	last := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	now := last.Add(time.Minute)
	tests := []struct {
		path     string
		healthy  bool
		status   int
		last     time.Time
		eligible bool
	}{
		{"/healthz", true, 200, now, true},
		{"/healthz", false, 503, last, true},
		{"/livez", true, 200, now, false},
		{"/livez", false, 503, last, false},
	}
	for _, tt := range tests {
		status, body := ProxyHealthAnswer(tt.path, tt.healthy, last, now)
		var got struct {
			LastUpdated  time.Time `json:"lastUpdated"`
			CurrentTime  time.Time `json:"currentTime"`
			NodeEligible *bool     `json:"nodeEligible"`
		}
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatalf("%s: body %q: %v", tt.path, body, err)
		}
		if status != tt.status || !got.LastUpdated.Equal(tt.last) || !got.CurrentTime.Equal(now) ||
			(got.NodeEligible != nil) != tt.eligible || got.NodeEligible != nil && !*got.NodeEligible {
			t.Errorf("%s healthy=%v: status %d body %s", tt.path, tt.healthy, status, body)
		}
	}
}
