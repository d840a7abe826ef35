package dns

import (
	"slices"
	"strconv"
	"testing"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"kinn.dev/kinn/lab/service"
)

type answerCase struct {
	name   string
	qtype  uint16
	rcode  int
	answer []string
	extra  []string
	soa    string // owner of the SOA in the authority section; "" for none
}

func TestAnswer(t *testing.T) {
	t.Parallel()
	z := labZone()
	const (
		nx    = dns.RcodeNameError
		ok    = dns.RcodeSuccess
		web   = "web.default.svc.cluster.local."
		local = "cluster.local."
	)
	tests := []answerCase{
		// ClusterIP Services.
		{name: web, qtype: dns.TypeA, rcode: ok, answer: []string{web + " 30 IN A 10.96.0.20"}},
		{name: web, qtype: dns.TypeAAAA, rcode: ok, soa: local},
		{name: web, qtype: dns.TypeMX, rcode: ok, soa: local},
		{name: web, qtype: dns.TypeCNAME, rcode: ok, soa: local},
		{name: "_http._tcp." + web, qtype: dns.TypeSRV, rcode: ok,
			answer: []string{"_http._tcp." + web + " 30 IN SRV 0 100 80 " + web},
			extra:  []string{web + " 30 IN A 10.96.0.20"}},
		{name: "_dns._udp." + web, qtype: dns.TypeSRV, rcode: ok,
			answer: []string{"_dns._udp." + web + " 30 IN SRV 0 100 53 " + web},
			extra:  []string{web + " 30 IN A 10.96.0.20"}},
		{name: web, qtype: dns.TypeSRV, rcode: ok,
			answer: []string{web + " 30 IN SRV 0 50 80 " + web, web + " 30 IN SRV 0 50 53 " + web},
			extra:  []string{web + " 30 IN A 10.96.0.20"}},
		{name: "_dns._tcp." + web, qtype: dns.TypeSRV, rcode: nx, soa: local},
		{name: "_http._udp." + web, qtype: dns.TypeSRV, rcode: nx, soa: local},
		{name: "_http._tcp." + web, qtype: dns.TypeA, rcode: ok, answer: []string{"_http._tcp." + web + " 30 IN A 10.96.0.20"}},
		{name: "api.team.svc.cluster.local.", qtype: dns.TypeA, rcode: ok, answer: []string{"api.team.svc.cluster.local. 30 IN A 10.96.0.30"}},
		// Endpoint names exist for a ClusterIP Service's ready endpoints
		// too, with the targetPort resolved on each pod.
		{name: "10-244-1-5." + web, qtype: dns.TypeA, rcode: ok, answer: []string{"10-244-1-5." + web + " 30 IN A 10.244.1.5"}},
		{name: "10-244-2-5." + web, qtype: dns.TypeSRV, rcode: ok,
			answer: []string{"10-244-2-5." + web + " 30 IN SRV 0 50 8081 10-244-2-5." + web, "10-244-2-5." + web + " 30 IN SRV 0 50 5353 10-244-2-5." + web},
			extra:  []string{"10-244-2-5." + web + " 30 IN A 10.244.2.5"}},
		{name: "10-244-2-6." + web, qtype: dns.TypeA, rcode: nx, soa: local}, // not ready

		// Headless: ready endpoints only, hostnames where the subdomain
		// names the Service, dashed addresses elsewhere.
		{name: "db.default.svc.cluster.local.", qtype: dns.TypeA, rcode: ok, answer: []string{
			"db.default.svc.cluster.local. 30 IN A 10.244.1.10",
			"db.default.svc.cluster.local. 30 IN A 10.244.2.11",
		}},
		{name: "db.default.svc.cluster.local.", qtype: dns.TypeSRV, rcode: ok,
			answer: []string{
				"db.default.svc.cluster.local. 30 IN SRV 0 33 15432 db-0.db.default.svc.cluster.local.",
				"db.default.svc.cluster.local. 30 IN SRV 0 33 9187 db-0.db.default.svc.cluster.local.",
				"db.default.svc.cluster.local. 30 IN SRV 0 33 9187 10-244-2-11.db.default.svc.cluster.local.",
			},
			extra: []string{
				"db-0.db.default.svc.cluster.local. 30 IN A 10.244.1.10",
				"10-244-2-11.db.default.svc.cluster.local. 30 IN A 10.244.2.11",
			}},
		{name: "_pg._tcp.db.default.svc.cluster.local.", qtype: dns.TypeSRV, rcode: ok,
			answer: []string{"_pg._tcp.db.default.svc.cluster.local. 30 IN SRV 0 100 15432 db-0.db.default.svc.cluster.local."},
			extra:  []string{"db-0.db.default.svc.cluster.local. 30 IN A 10.244.1.10"}},
		{name: "db-0.db.default.svc.cluster.local.", qtype: dns.TypeA, rcode: ok, answer: []string{"db-0.db.default.svc.cluster.local. 30 IN A 10.244.1.10"}},
		{name: "10-244-2-11.db.default.svc.cluster.local.", qtype: dns.TypeA, rcode: ok, answer: []string{"10-244-2-11.db.default.svc.cluster.local. 30 IN A 10.244.2.11"}},
		{name: "db-1.db.default.svc.cluster.local.", qtype: dns.TypeA, rcode: nx, soa: local},        // its subdomain is another Service's
		{name: "10-244-1-12.db.default.svc.cluster.local.", qtype: dns.TypeA, rcode: nx, soa: local}, // not ready
		{name: "10-244-1-13.db.default.svc.cluster.local.", qtype: dns.TypeA, rcode: nx, soa: local}, // terminating
		{name: "lazy.default.svc.cluster.local.", qtype: dns.TypeA, rcode: ok, answer: []string{"lazy.default.svc.cluster.local. 30 IN A 10.244.1.20"}},
		{name: "lazy.default.svc.cluster.local.", qtype: dns.TypeSRV, rcode: ok,
			answer: []string{"lazy.default.svc.cluster.local. 30 IN SRV 0 100 9000 10-244-1-20.lazy.default.svc.cluster.local."},
			extra:  []string{"10-244-1-20.lazy.default.svc.cluster.local. 30 IN A 10.244.1.20"}},
		{name: "empty.default.svc.cluster.local.", qtype: dns.TypeA, rcode: nx, soa: local},

		// ExternalName: a CNAME, followed only inside the zone.
		{name: "ext.default.svc.cluster.local.", qtype: dns.TypeCNAME, rcode: ok, answer: []string{"ext.default.svc.cluster.local. 30 IN CNAME example.com."}},
		{name: "ext.default.svc.cluster.local.", qtype: dns.TypeA, rcode: ok, answer: []string{"ext.default.svc.cluster.local. 30 IN CNAME example.com."}},
		{name: "ext.default.svc.cluster.local.", qtype: dns.TypeAAAA, rcode: ok, answer: []string{"ext.default.svc.cluster.local. 30 IN CNAME example.com."}},
		{name: "ext.default.svc.cluster.local.", qtype: dns.TypeSRV, rcode: ok, soa: local},
		{name: "_http._tcp.ext.default.svc.cluster.local.", qtype: dns.TypeA, rcode: nx, soa: local},
		{name: "alias.default.svc.cluster.local.", qtype: dns.TypeA, rcode: ok, answer: []string{
			"alias.default.svc.cluster.local. 30 IN CNAME " + web, web + " 30 IN A 10.96.0.20",
		}},
		{name: "dangling.default.svc.cluster.local.", qtype: dns.TypeA, rcode: ok, soa: local},
		{name: "loop-a.default.svc.cluster.local.", qtype: dns.TypeA, rcode: ok, soa: local},

		// Reverse names: ClusterIPs, then endpoints; nothing else.
		{name: "20.0.96.10.in-addr.arpa.", qtype: dns.TypePTR, rcode: ok, answer: []string{"20.0.96.10.in-addr.arpa. 30 IN PTR " + web}},
		{name: "10.1.244.10.in-addr.arpa.", qtype: dns.TypePTR, rcode: ok, answer: []string{"10.1.244.10.in-addr.arpa. 30 IN PTR db-0.db.default.svc.cluster.local."}},
		{name: "5.1.244.10.in-addr.arpa.", qtype: dns.TypePTR, rcode: ok, answer: []string{"5.1.244.10.in-addr.arpa. 30 IN PTR 10-244-1-5." + web}},
		{name: "12.1.244.10.in-addr.arpa.", qtype: dns.TypePTR, rcode: nx, soa: "in-addr.arpa."},
		{name: "10.in-addr.arpa.", qtype: dns.TypePTR, rcode: nx, soa: "in-addr.arpa."},
		{name: "20.0.96.10.in-addr.arpa.", qtype: dns.TypeA, rcode: nx, soa: "in-addr.arpa."},
		{name: "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.", qtype: dns.TypePTR, rcode: nx, soa: "ip6.arpa."},

		// Pods, insecure: any address in any existing namespace.
		{name: "10-244-9-9.default.pod.cluster.local.", qtype: dns.TypeA, rcode: ok, answer: []string{"10-244-9-9.default.pod.cluster.local. 30 IN A 10.244.9.9"}},
		{name: "10-244-9-9.other.pod.cluster.local.", qtype: dns.TypeA, rcode: ok, answer: []string{"10-244-9-9.other.pod.cluster.local. 30 IN A 10.244.9.9"}},
		{name: "10-244-9-9.default.pod.cluster.local.", qtype: dns.TypeAAAA, rcode: ok, soa: local},
		{name: "fd00--1.default.pod.cluster.local.", qtype: dns.TypeAAAA, rcode: ok, answer: []string{"fd00--1.default.pod.cluster.local. 30 IN AAAA fd00::1"}},
		{name: "10-244-9-9.nowhere.pod.cluster.local.", qtype: dns.TypeA, rcode: nx, soa: local},
		{name: "blah.default.pod.cluster.local.", qtype: dns.TypeA, rcode: nx, soa: local},
		{name: "default.pod.cluster.local.", qtype: dns.TypeA, rcode: ok, soa: local},

		// Everything else in the zone.
		{name: "default.svc.cluster.local.", qtype: dns.TypeA, rcode: ok, soa: local},
		{name: "nowhere.svc.cluster.local.", qtype: dns.TypeA, rcode: nx, soa: local},
		{name: "missing.default.svc.cluster.local.", qtype: dns.TypeA, rcode: nx, soa: local},
		{name: "missing.default.svc.cluster.local.", qtype: dns.TypeHINFO, rcode: nx, soa: local},
		{name: "svc.cluster.local.", qtype: dns.TypeA, rcode: ok, soa: local},
		{name: "foo.cluster.local.", qtype: dns.TypeA, rcode: nx, soa: local},
		{name: "a.b.c.d.default.svc.cluster.local.", qtype: dns.TypeA, rcode: nx, soa: local},
		{name: local, qtype: dns.TypeA, rcode: ok, soa: local},
		{name: local, qtype: dns.TypeSOA, rcode: ok, answer: []string{local + " 30 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. " + serial(z) + " 7200 1800 86400 30"}},
		{name: "missing.default.svc.cluster.local.", qtype: dns.TypeSOA, rcode: ok, soa: local},
		{name: local, qtype: dns.TypeNS, rcode: ok,
			answer: []string{local + " 30 IN NS kube-dns.kube-system.svc.cluster.local."},
			extra:  []string{"kube-dns.kube-system.svc.cluster.local. 30 IN A 10.96.0.10"}},
		{name: "ns.dns.cluster.local.", qtype: dns.TypeA, rcode: ok, answer: []string{"ns.dns.cluster.local. 30 IN A 10.96.0.10"}},
		{name: "dns-version.cluster.local.", qtype: dns.TypeTXT, rcode: ok, answer: []string{`dns-version.cluster.local. 28800 IN TXT "1.1.0"`}},
		{name: web, qtype: dns.TypeTXT, rcode: ok, soa: local},
		{name: "default.svc.cluster.local.", qtype: dns.TypeTXT, rcode: nx, soa: local},

		// The echo of the client's spelling.
		{name: "WEB.Default.SVC.Cluster.Local.", qtype: dns.TypeA, rcode: ok, answer: []string{"WEB.Default.SVC.Cluster.Local. 30 IN A 10.96.0.20"}},
		{name: "_HTTP._Tcp.Web.default.svc.Cluster.Local.", qtype: dns.TypeSRV, rcode: ok,
			answer: []string{"_HTTP._Tcp.Web.default.svc.Cluster.Local. 30 IN SRV 0 100 80 web.default.svc.Cluster.Local."},
			extra:  []string{"web.default.svc.Cluster.Local. 30 IN A 10.96.0.20"}},
		{name: "Missing.default.svc.Cluster.Local.", qtype: dns.TypeA, rcode: nx, soa: "Cluster.Local."},

		// Outside the zones: refused, never forwarded.
		{name: "example.com.", qtype: dns.TypeA, rcode: dns.RcodeRefused},
		{name: "web.default.svc.cluster.local.example.com.", qtype: dns.TypeA, rcode: dns.RcodeRefused},
		{name: "notcluster.local.", qtype: dns.TypeA, rcode: dns.RcodeRefused},
		{name: local, qtype: dns.TypeAXFR, rcode: dns.RcodeRefused},
	}
	for _, tc := range tests {
		t.Run(dns.TypeToString[tc.qtype]+" "+tc.name, func(t *testing.T) {
			t.Parallel()
			checkAnswer(t, z, tc)
		})
	}
}

func checkAnswer(t *testing.T, z *Zone, tc answerCase) {
	t.Helper()
	req := query(tc.name, tc.qtype)
	m := z.Answer(req)
	if m.Id != req.Id || !m.Response || len(m.Question) != 1 || m.Question[0] != req.Question[0] {
		t.Errorf("reply header %v / question %v does not match the query", m.MsgHdr, m.Question)
	}
	if m.Rcode != tc.rcode {
		t.Errorf("rcode %s, want %s", dns.RcodeToString[m.Rcode], dns.RcodeToString[tc.rcode])
	}
	if want := tc.rcode != dns.RcodeRefused; m.Authoritative != want {
		t.Errorf("authoritative %t, want %t", m.Authoritative, want)
	}
	if got := texts(m.Answer); !slices.Equal(got, tc.answer) {
		t.Errorf("answer\n %q\nwant\n %q", got, tc.answer)
	}
	if got := texts(m.Extra); !slices.Equal(got, tc.extra) {
		t.Errorf("extra\n %q\nwant\n %q", got, tc.extra)
	}
	if got := soaOwner(t, m); got != tc.soa {
		t.Errorf("SOA owner %q, want %q", got, tc.soa)
	}
}

func serial(z *Zone) string { return strconv.FormatUint(uint64(z.serial), 10) }

// A Service that changes type changes its answer: the lab rebuilds the
// zone from the new objects.
func TestAnswerFollowsServiceType(t *testing.T) {
	t.Parallel()
	const name = "flip.default.svc.cluster.local."
	pods := []service.PodState{newPod("default", "flip-0", "flip", "10.244.1.7")}
	asExternal := newSvc("default", "flip", "", externalName("flip.example.org"), selecting("flip"))
	asClusterIP := newSvc("default", "flip", "10.96.0.77", selecting("flip"),
		ports(svcPort("http", corev1.ProtocolTCP, 80, intstr.FromInt32(8080))))
	tests := []struct {
		svc  *corev1.Service
		want []string
	}{
		{asExternal, []string{name + " 30 IN CNAME flip.example.org."}},
		{asClusterIP, []string{name + " 30 IN A 10.96.0.77"}},
		{asExternal, []string{name + " 30 IN CNAME flip.example.org."}},
	}
	for i, tc := range tests {
		z := NewZone("cluster.local", []*corev1.Service{tc.svc}, pods, nil)
		if got := texts(z.Answer(query(name, dns.TypeA)).Answer); !slices.Equal(got, tc.want) {
			t.Errorf("step %d: answer %q, want %q", i, got, tc.want)
		}
	}
}

// Another cluster domain moves every name, PTR targets included.
func TestAnswerDomain(t *testing.T) {
	t.Parallel()
	svcs := []*corev1.Service{newSvc("default", "web", "10.96.0.20")}
	z := NewZone("Lab.Example.", svcs, nil, nil)
	tests := []answerCase{
		{name: "web.default.svc.lab.example.", qtype: dns.TypeA, rcode: dns.RcodeSuccess, answer: []string{"web.default.svc.lab.example. 30 IN A 10.96.0.20"}},
		{name: "20.0.96.10.in-addr.arpa.", qtype: dns.TypePTR, rcode: dns.RcodeSuccess, answer: []string{"20.0.96.10.in-addr.arpa. 30 IN PTR web.default.svc.lab.example."}},
		{name: "web.default.svc.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeRefused},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			checkAnswer(t, z, tc)
		})
	}
}

func TestAnswerMessages(t *testing.T) {
	t.Parallel()
	z := labZone()
	withEDNS := func(version uint8, do bool) *dns.Msg {
		m := query("web.default.svc.cluster.local.", dns.TypeA)
		m.SetEdns0(1232, do)
		m.IsEdns0().SetVersion(version)
		return m
	}
	noQuestion := query("web.default.svc.cluster.local.", dns.TypeA)
	noQuestion.Question = nil
	notify := query("cluster.local.", dns.TypeSOA)
	notify.Opcode = dns.OpcodeNotify
	tests := []struct {
		name    string
		req     *dns.Msg
		rcode   int
		answers int
		opt     bool // an OPT record echoing 1232 bytes and the DO bit
	}{
		{"plain", query("web.default.svc.cluster.local.", dns.TypeA), dns.RcodeSuccess, 1, false},
		{"EDNS0", withEDNS(0, true), dns.RcodeSuccess, 1, true},
		{"EDNS1", withEDNS(1, true), dns.RcodeBadVers, 0, true},
		{"no question", noQuestion, dns.RcodeFormatError, 0, false},
		{"notify", notify, dns.RcodeNotImplemented, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := z.Answer(tc.req)
			if m.Rcode != tc.rcode || len(m.Answer) != tc.answers {
				t.Errorf("rcode %s with %d answers, want %s with %d", dns.RcodeToString[m.Rcode], len(m.Answer), dns.RcodeToString[tc.rcode], tc.answers)
			}
			opt := m.IsEdns0()
			if got := opt != nil && opt.UDPSize() == 1232 && opt.Do() && opt.Version() == 0; got != tc.opt {
				t.Errorf("reply OPT %v, want one: %t", opt, tc.opt)
			}
			if _, err := m.Pack(); err != nil {
				t.Errorf("reply does not pack: %v", err)
			}
		})
	}
}
