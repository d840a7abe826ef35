// Package dns is the lab's cluster DNS: it answers the way CoreDNS's
// kubernetes plugin does in a kubeadm cluster, whose Corefile says
//
//	kubernetes cluster.local in-addr.arpa ip6.arpa {
//	   pods insecure
//	   fallthrough in-addr.arpa ip6.arpa
//	   ttl 30
//	}
//
// but it never forwards: the lab is offline, so names outside those zones
// are REFUSED and reverse names nobody owns are NXDOMAIN, where CoreDNS
// would fall through to its forward plugin.
//
// A Zone is an immutable snapshot built from the lab's Services and pods;
// Answer is a pure function of a Zone and a query. The Server swaps Zones
// atomically, so an answer always comes from one consistent snapshot and
// follows a change as soon as the lab publishes it.
//
// Design notes, all taken from the plugin's behaviour (coredns/coredns
// plugin/kubernetes: kubernetes.go, parse.go, reverse.go, handler.go and
// plugin/backend_lookup.go):
//
//   - A name is taken apart from the right: zone, "svc" or "pod",
//     namespace, service, then one label (an endpoint) or two (port and
//     protocol; the leading underscores are optional). Anything longer is
//     NXDOMAIN.
//   - Looking a name up yields hits, CoreDNS's msg.Service: an address or
//     an external name, a port, and the name an SRV record would point at.
//     Every query type is then cut from the same hits, which is why an A
//     query for _http._tcp.web.ns.svc answers the ClusterIP and an SRV
//     query for a pod name answers port 0: CoreDNS does the same.
//   - Endpoints are those the EndpointSlice controller would publish as
//     ready, which is all CoreDNS reads: pods the selector picks in the
//     Service's namespace with an address, Ready and not terminating, or
//     every one with publishNotReadyAddresses.
//   - A name that exists but lacks the type asked for is NODATA, one that
//     does not is NXDOMAIN; both carry the zone's SOA. A headless Service
//     without endpoints is NXDOMAIN, as in CoreDNS.
//   - Answers echo the question's spelling; SRV targets keep the zone as
//     the client spelled it but the Service's own labels in lower case.
package dns
