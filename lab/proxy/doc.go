// Package proxy is kinn's service proxy, computed as data: from one node's
// view of the Services (service.Port) it builds the desired nftables
// ruleset of that node's `kinn` table, with kube-proxy's nftables-mode
// semantics, and diffs two rulesets into the minimal incremental changes.
// It is pure — no kernel, no clock; package lab/kernel/nft applies its
// output.
//
// The layout (`kinn rules` shows it, each fixed chain, set and map with its
// meaning from meaning.go; nft syntax via Ruleset.String):
//
//	nat-prerouting, nat-output (dstnat)  -> jump services
//	services:   ip daddr . meta l4proto . th dport vmap @service-ips
//	            ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports
//	svc-<id>:   ip saddr != <pod CIDR> jump mark-for-masquerade (off-cluster)
//	            [ip saddr @aff-<ep> goto ep-<id>/<ep>]...   (session affinity)
//	            numgen random mod 3 == 0 goto ep-<id>/<ep0>  (1/3)
//	            numgen random mod 2 == 0 goto ep-<id>/<ep1>  (1/2 of the rest)
//	            goto ep-<id>/<ep2>                           (the rest)
//	local-<id>: the same over this node's endpoints (traffic policy Local)
//	ext-<id>:   NodePort/external IP traffic: masquerade (Cluster), or keep the
//	            source and use local-<id> (Local; pods and the node itself
//	            short-circuit to svc-<id>)
//	ep-<id>/<pod>-<port>: hairpin -> mark; [update @aff-...]; dnat to ip:port
//	nat-postrouting (srcnat) -> masquerading: return unless mark 0x4000,
//	            clear it, masquerade fully-random
//	filter-input/forward/output: ct state new -> endpoints-check, which
//	            consults @no-endpoint-services / @no-endpoint-nodeports
//	            (goto reject: ICMP port unreachable; or drop for a
//	            Local policy without local endpoints); no ct state
//	            invalid drop (kube-proxy removed it).
//	filter-forward/output: then ct state new -> cluster-ips-check: a
//	            ClusterIP still the destination after DNAT (no such port)
//	            is rejected (@cluster-ips), the rest of the service CIDR
//	            dropped.
//
// Why a cascade of plain rules: kube-proxy writes `numgen random mod N vmap
// { 0 : goto a, ... }`, an anonymous set per service chain, and creating
// one costs time proportional to the sets already in the table, so a full
// load is quadratic. Named maps, one per service, are quadratic too on this
// kernel (every set creation and lookup by name walks the table's list of
// sets). Chains and rules are linear, so kinn uses only them to choose; the
// NamedMaps layout stays available (BuildLayout) for the benchmarks. See
// README.md for the figures.
package proxy
