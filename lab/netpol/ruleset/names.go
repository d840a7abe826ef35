package ruleset

import (
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"strings"

	"kinn.dev/kinn/lab/netpol"
	"kinn.dev/kinn/lab/proxy"
)

// Kernel names of pods and policies: chain names and log prefixes. They
// are read by people (`nft list ruleset`, the verdict log), so they are
// namespace/name as long as that fits; a pod or policy name is a DNS
// subdomain and a namespace a DNS label, so "ns/name" is unique. A name
// too long for a log prefix (127 bytes) is cut and given a hash of the
// whole, which keeps it unique.

// maxIdent keeps "np A I " + ident + "#NNN" within proxy.MaxLogPrefix.
const maxIdent = 100

func ident(key string) string {
	if len(key) <= maxIdent {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	h := strings.ToLower(base32.StdEncoding.EncodeToString(sum[:])[:16])
	return key[:maxIdent-17] + "~" + h
}

func dirTag(dir netpol.Direction) string {
	if dir == netpol.Ingress {
		return "in"
	}
	return "eg"
}

// PodChain is the chain that judges pod's dir: pod-in-x/a.
func PodChain(pod *netpol.Pod, dir netpol.Direction) string {
	return "pod-" + dirTag(dir) + "-" + ident(pod.String())
}

// PolicyChain is the chain of p's rules for dir: pol-in-x/allow-b.
func PolicyChain(p *netpol.Policy, dir netpol.Direction) string {
	return "pol-" + dirTag(dir) + "-" + ident(p.Key())
}

// LogPrefix is a verdict's NFLOG prefix: "np A I x/allow-b#0" for a
// connection rule 0 of x/allow-b let in, "np D E x/a" for one that pod
// x/a's egress policies dropped.
func LogPrefix(allowed bool, dir netpol.Direction, what string) string {
	v := "D"
	if allowed {
		v = "A"
	}
	d := "I"
	if dir == netpol.Egress {
		d = "E"
	}
	return "np " + v + " " + d + " " + what
}

// DropPrefix is the log prefix of a connection pod's policies dropped:
// "np D I x/a by x/deny,x/allow-b", as many of the isolating policies as
// fit the kernel's 127 bytes, then "+N" for the rest.
func DropPrefix(dir netpol.Direction, pod string, by []string) string {
	s := LogPrefix(false, dir, ident(pod)) + " by"
	for i, p := range by {
		sep := ","
		if i == 0 {
			sep = " "
		}
		more := fmt.Sprintf(" +%d", len(by)-i)
		if len(s)+len(sep)+len(p)+len(more) > proxy.MaxLogPrefix && i < len(by)-1 || len(s)+len(sep)+len(p) > proxy.MaxLogPrefix {
			return s + more
		}
		s += sep + p
	}
	return s
}
