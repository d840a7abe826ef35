package dns

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"kinn.dev/kinn/lab/plan"
)

// What the kubelet writes into every pod so that its processes find the
// cluster DNS: resolv.conf by dnsPolicy and dnsConfig (pkg/kubelet/network/
// dns), the Kubernetes-managed /etc/hosts, and the pod's hostname.

// Limits the kubelet applies to a resolv.conf.
const (
	maxNameservers = 3
	maxSearches    = 32
)

// ResolvConf is the pod's /etc/resolv.conf. clusterDNS is the kube-dns
// Service's address; hostResolv is the node's own resolv.conf, which the
// Default policy passes on.
func ResolvConf(pod *corev1.Pod, clusterDNS netip.Addr, domain string, hostResolv string) string {
	c := PodDNS(pod, clusterDNS, domain, hostResolv)
	var b strings.Builder
	fmt.Fprintf(&b, "# written by kinn for pod %s/%s, as the kubelet would (dnsPolicy %s)\n", pod.Namespace, pod.Name, policy(pod))
	for _, n := range c.Servers {
		fmt.Fprintf(&b, "nameserver %s\n", n)
	}
	if len(c.Searches) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(c.Searches, " "))
	}
	if len(c.Options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(c.Options, " "))
	}
	return b.String()
}

// PodDNS is what the pod's resolv.conf holds, as the kubelet hands it to
// the runtime in CRI's DNSConfig (and containerd to the plugins in the
// `dns` capability): nameservers, search domains, options as "name:value".
func PodDNS(pod *corev1.Pod, clusterDNS netip.Addr, domain string, hostResolv string) plan.DNS {
	var ns, search []string
	opts := map[string]string{}
	var order []string
	setOpt := func(name, value string) {
		if _, ok := opts[name]; !ok {
			order = append(order, name)
		}
		opts[name] = value
	}
	switch pod.Spec.DNSPolicy {
	case corev1.DNSDefault:
		ns, search, order, opts = parseResolv(hostResolv)
	case corev1.DNSNone:
	default: // ClusterFirst, and ClusterFirstWithHostNet (no pod has the host's network here)
		ns = []string{clusterDNS.String()}
		search = []string{pod.Namespace + ".svc." + domain, "svc." + domain, domain}
		setOpt("ndots", "5")
	}
	if c := pod.Spec.DNSConfig; c != nil {
		ns = append(ns, c.Nameservers...)
		search = append(search, c.Searches...)
		for _, o := range c.Options {
			v := ""
			if o.Value != nil {
				v = *o.Value
			}
			setOpt(o.Name, v)
		}
	}
	out := plan.DNS{Servers: first(dedupe(ns), maxNameservers), Searches: first(dedupe(search), maxSearches)}
	for _, name := range order {
		if v := opts[name]; v != "" {
			out.Options = append(out.Options, name+":"+v)
		} else {
			out.Options = append(out.Options, name)
		}
	}
	return out
}

func policy(pod *corev1.Pod) corev1.DNSPolicy {
	if pod.Spec.DNSPolicy == "" {
		return corev1.DNSClusterFirst
	}
	return pod.Spec.DNSPolicy
}

// parseResolv reads nameserver, search and options lines.
func parseResolv(text string) (ns, search, order []string, opts map[string]string) {
	opts = map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], ";") {
			continue
		}
		switch f[0] {
		case "nameserver":
			ns = append(ns, f[1])
		case "search", "domain":
			search = f[1:]
		case "options":
			for _, o := range f[1:] {
				name, value, _ := strings.Cut(o, ":")
				if _, ok := opts[name]; !ok {
					order = append(order, name)
				}
				opts[name] = value
			}
		}
	}
	return ns, search, order, opts
}

func dedupe(in []string) []string {
	var out []string
	for _, s := range in {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func first(in []string, n int) []string { return in[:min(len(in), n)] }

// Hostname is what the pod reports as its hostname: spec.hostname, else
// its name cut to 63 characters (a DNS label), as the kubelet does.
func Hostname(pod *corev1.Pod) string {
	if pod.Spec.Hostname != "" {
		return pod.Spec.Hostname
	}
	h := pod.Name
	if len(h) > 63 {
		h = strings.TrimRight(h[:63], "-.")
	}
	return h
}

// HostsFile is the Kubernetes-managed /etc/hosts: localhost, the pod's own
// address under its hostname (fully qualified when it has a subdomain),
// then its hostAliases.
func HostsFile(pod *corev1.Pod, ip netip.Addr, domain string) string {
	var b strings.Builder
	b.WriteString("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" +
		"fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n")
	if ip.IsValid() {
		h := Hostname(pod)
		if sub := pod.Spec.Subdomain; sub != "" {
			fmt.Fprintf(&b, "%s\t%s.%s.%s.svc.%s\t%s\n", ip, h, sub, pod.Namespace, domain, h)
		} else {
			fmt.Fprintf(&b, "%s\t%s\n", ip, h)
		}
	}
	if len(pod.Spec.HostAliases) > 0 {
		b.WriteString("\n# Entries added by HostAliases.\n")
		for _, a := range pod.Spec.HostAliases {
			fmt.Fprintf(&b, "%s\t%s\n", a.IP, strings.Join(a.Hostnames, "\t"))
		}
	}
	return b.String()
}
