package ruleset

import (
	"strconv"
	"strings"

	"kinn.dev/kinn/lab/netpol"
)

// Meaning reads a verdict's log prefix back in the policies' terms:
// "np A I x/allow-b#0" is "allowed by x/allow-b ingress rule 0 (from
// podSelector pod=b, any port)", "np D I x/a by x/deny" is "x/a ingress
// denied: isolated by x/deny, no rule allows". The prefix carries the
// names themselves, so the policies as they are now (c) only add the
// rule's text; a rule since removed is said to be gone.
func Meaning(prefix string, c *netpol.Cluster) (string, bool) {
	f := strings.Fields(prefix)
	if len(f) < 4 || f[0] != "np" || (f[2] != "I" && f[2] != "E") {
		return "", false
	}
	dir := netpol.Ingress
	if f[2] == "E" {
		dir = netpol.Egress
	}
	switch f[1] {
	case "A":
		key, idx, ok := strings.Cut(f[3], "#")
		i, err := strconv.Atoi(idx)
		if !ok || err != nil {
			return "", false
		}
		for _, p := range c.Policies() {
			if p.Key() == key && i < len(p.Rules(dir)) {
				r := netpol.RuleRef{Policy: p, Direction: dir, Index: i}
				return "allowed by " + r.String() + " (" + r.Describe() + ")", true
			}
		}
		return "allowed by " + key + " " + dir.String() + " rule " + idx + " (no longer there)", true
	case "D":
		s := f[3] + " " + dir.String() + " denied"
		if len(f) > 5 && f[4] == "by" {
			s += ": isolated by " + strings.Join(strings.Split(f[5], ","), ", ")
			if len(f) > 6 {
				s += " and " + strings.TrimPrefix(f[6], "+") + " more"
			}
			s += "; no rule allows"
		}
		return s, true
	}
	return "", false
}
