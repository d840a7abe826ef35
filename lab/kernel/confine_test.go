package kernel

import (
	"slices"
	"testing"
)

func TestConfinementCaps(t *testing.T) {
	t.Parallel()
	c := &Confinement{Caps: []string{"NET_RAW", "cap_net_bind_service", "NET_RAW"}}
	got, err := c.ambient()
	if err != nil || !slices.Equal(got, []uintptr{10, 13}) {
		t.Errorf("ambient = %v, %v; want [10 13] (NET_BIND_SERVICE, NET_RAW)", got, err)
	}
	if err := (&Confinement{Caps: []string{"NET_BIND_SERVCE"}}).checkCaps(); err == nil {
		t.Error("a misspelt capability passed")
	}
	back, err := ParseConfinement(c.encode())
	if err != nil || !slices.Equal(back.Caps, c.Caps) {
		t.Errorf("round trip: %+v, %v", back, err)
	}
}

func TestUnescapeMount(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`/run/netns/a\040b`: "/run/netns/a b",
		`/x\134y`:           `/x\y`,
		`/plain`:            "/plain",
		`/short\04`:         `/short\04`,
	} {
		if got := unescapeMount(in); got != want {
			t.Errorf("unescapeMount(%q) = %q, want %q", in, got, want)
		}
	}
}
