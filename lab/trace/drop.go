package trace

import (
	"fmt"
	"slices"
	"strings"
)

// KernelDrop is a packet of the probe the kernel itself freed as dropped
// (skb:kfree_skb with a reason), in a namespace of the lab.
type KernelDrop struct {
	Netns  string
	Reason string // the kernel's name: "NO_SOCKET", "NETFILTER_DROP", ...
	Symbol string // the kernel function that dropped it, "" if unknown
	Dev    string // the device the packet was on, "" if none yet
}

// reasonWords says the kernel's most common drop reasons in plain words;
// the others are shown by their name, lower case.
var reasonWords = map[string]string{
	"NO_SOCKET":            "no socket listens on that port",
	"NO_TX_TARGET":         "the device had nowhere to send it (a VXLAN device without an FDB entry for its MAC)",
	"VXLAN_NO_REMOTE":      "the VXLAN device had no remote to send it to (no FDB entry for its MAC)",
	"NETFILTER_DROP":       "dropped by an nftables rule",
	"IP_INNOROUTES":        "no route for the arriving packet",
	"IP_OUTNOROUTES":       "no route to send it by",
	"NEIGH_FAILED":         "the next hop's address did not resolve (no ARP answer)",
	"NEIGH_QUEUEFULL":      "too many packets waiting for the next hop's ARP answer",
	"IP_RPFILTER":          "the reverse path filter refused its source",
	"IP_INHDR":             "a bad IP header",
	"IP_CSUM":              "a bad IP checksum",
	"UDP_CSUM":             "a bad UDP checksum",
	"TCP_CSUM":             "a bad TCP checksum",
	"OTHERHOST":            "the frame was for another host's MAC address",
	"PKT_TOO_SMALL":        "the packet was too short",
	"SOCKET_FILTER":        "a socket filter refused it",
	"SOCKET_RCVBUFF":       "the socket's receive buffer was full",
	"XFRM_POLICY":          "an IPsec policy refused it",
	"IP_INADDRERRORS":      "an address error on arrival",
	"TCP_LISTEN_OVERFLOW":  "the listener's accept queue was full",
	"QDISC_DROP":           "the queueing discipline dropped it",
	"FULL_RING":            "the device's ring was full",
	"DEV_READY":            "the device was down",
	"TC_INGRESS":           "a tc ingress filter dropped it",
	"TC_EGRESS":            "a tc egress filter dropped it",
	"UNHANDLED_PROTO":      "no handler for its protocol",
	"VXLAN_INVALID_HDR":    "a bad VXLAN header",
	"VXLAN_VNI_NOT_FOUND":  "no VXLAN device for its VNI",
	"IP_LOCAL_SOURCE":      "its source is an address of this namespace",
	"IP_INVALID_SOURCE":    "an invalid source address",
	"IP_LOCALNET":          "a loopback address from outside",
	"IP_INVALID_DEST":      "an invalid destination address",
	"TCP_FLAGS":            "TCP flags not valid in that state",
	"TCP_INVALID_SEQUENCE": "a TCP sequence number out of the window",
	"TCP_RESET":            "a TCP reset",
	"TCP_CLOSE":            "the TCP connection was already closed",
	"TCP_OLD_DATA":         "old TCP data",
	"IPV6DISABLED":         "IPv6 is disabled",
}

// ReasonWords is the kernel's drop reason in plain words.
func ReasonWords(reason string) string {
	if w, ok := reasonWords[reason]; ok {
		return w
	}
	return "dropped by the kernel: " + strings.ToLower(strings.ReplaceAll(reason, "_", " "))
}

// addKernelDrops puts the kernel's drops into the request, each after the
// last hop of its namespace (or at the end, for a namespace nothing was
// traced in), once per namespace and reason. A NETFILTER_DROP where
// nftables already named the dropping rule says nothing new and is left
// out. Only a request that did not get through is told so: after an
// answer, drops of the probe's socket (a late retransmission) are noise.
func (in Input) addKernelDrops(j *Journey) {
	if in.Probe.Outcome != NoAnswer && in.Probe.Outcome != Refused {
		return
	}
	seen := map[[2]string]bool{}
	for _, d := range in.Drops {
		k := [2]string{d.Netns, d.Reason}
		if seen[k] {
			continue
		}
		if in.Probe.Outcome == NoAnswer && len(j.Reply) > 0 && d.Netns == j.Reply[0].Namespace {
			// The probe got there and was answered, and the answer was
			// lost: what the kernel dropped there is a retransmission
			// the answerer had already answered, not why the answer
			// never came. (A refusal is the drop's own answer: a reset
			// for a SYN no socket took.)
			continue
		}
		seen[k] = true
		if d.Reason == "NETFILTER_DROP" && slices.ContainsFunc(j.Request, func(h Hop) bool {
			return h.Namespace == d.Netns && h.Component == CompDrop
		}) {
			continue
		}
		if slices.ContainsFunc(j.Request, func(h Hop) bool { // already told (a missing entry's hop)
			return h.Namespace == d.Netns && h.Component == CompDrop && strings.Contains(h.Detail, kernelWords(d))
		}) {
			continue
		}
		j.Request = slices.Insert(j.Request, in.dropAt(j.Request, d.Netns), in.dropHop(d))
	}
}

// dropAt is where a drop in netns goes: after that namespace's last hop,
// else at the end.
func (in Input) dropAt(hops []Hop, netns string) int {
	for i := len(hops) - 1; i >= 0; i-- {
		if hops[i].Namespace == netns {
			return i + 1
		}
	}
	return len(hops)
}

func (in Input) dropHop(d KernelDrop) Hop {
	pl := in.Places[d.Netns]
	return Hop{Namespace: d.Netns, Node: pl.Node, Pod: pl.Pod, Component: CompDrop,
		Action: ReasonWords(d.Reason), Detail: kernelWords(d)}
}

// kernelWords is the kernel's report of a drop, as a hop's detail.
func kernelWords(d KernelDrop) string {
	s := "kernel drop reason " + d.Reason
	if d.Symbol != "" {
		s += " in " + d.Symbol
	}
	if d.Dev != "" {
		s += fmt.Sprintf(" (packet on %s)", d.Dev)
	}
	return s
}
