package daemon

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"log"
	"math/big"
	"net"
	"net/http"
	"runtime"
	"strings"
	"time"

	"kinn.dev/kinn/lab/kernel"
	"kinn.dev/kinn/lab/plan"
	"kinn.dev/kinn/topology"
)

// The API server stand-in: what the `kubernetes` Service leads to. It
// answers the unauthenticated health and version endpoints a learner
// curls (`curl -k https://kubernetes/healthz`) over TLS with a certificate
// made when the lab process starts, with kubeadm's names for the Service.
// There is no API behind it: kinn is a network, not a control plane.

// KubernetesVersion is the version /version reports.
const KubernetesVersion = "v1.33.0"

type apiServers struct {
	cert  *tls.Certificate
	nodes map[uint64]*http.Server // by the node namespace's inode: a node recreated by `kinn up` is a new one
}

func (a *apiServers) sync(st *plan.Lab, t *topology.Lab) {
	if a.nodes == nil {
		a.nodes = map[uint64]*http.Server{}
	}
	want := map[uint64]bool{}
	for i, n := range st.Nodes {
		id := kernel.NetnsID(n.Netns)
		if t.Nodes[i].Role != topology.RoleControlPlane || id == 0 {
			continue
		}
		want[id] = true
		if a.nodes[id] != nil {
			continue
		}
		if err := a.start(id, n, t); err != nil {
			log.Printf("api server on %s: %v", n.Name, err)
		}
	}
	for id, srv := range a.nodes {
		if !want[id] {
			srv.Close() // also lets a deleted namespace go
			delete(a.nodes, id)
		}
	}
}

func (a *apiServers) start(id uint64, n plan.Node, t *topology.Lab) error {
	if a.cert == nil {
		c, err := selfSigned(t)
		if err != nil {
			return err
		}
		a.cert = c
	}
	var ln net.Listener
	err := kernel.Do(n.Netns, func() error {
		var err error
		ln, err = net.Listen("tcp4", fmt.Sprintf(":%d", topology.APIServerPort))
		return err
	})
	if err != nil {
		return err
	}
	srv := newAPIServer(a.cert)
	a.nodes[id] = srv
	go srv.ServeTLS(ln, "", "")
	return nil
}

func newAPIServer(cert *tls.Certificate) *http.Server {
	return &http.Server{Handler: apiHandler(), TLSConfig: &tls.Config{Certificates: []tls.Certificate{*cert}},
		ReadHeaderTimeout: 5 * time.Second, ErrorLog: log.New(handshakeNoise{}, "", 0)}
}

// handshakeNoise passes the server's errors on to the lab process's log,
// but for handshakes that never began: `kinn check` and anyone checking a
// port connect without TLS (or speak plain HTTP to it) and hang up, and
// each would log "TLS handshake error" (196 of a lab log's 212 lines after
// a few checks, all shown on the Events screen). A handshake that began
// and failed is still logged.
type handshakeNoise struct{}

func (handshakeNoise) Write(b []byte) (int, error) {
	if line := string(b); !isPlainConnect(line) {
		log.Print(line)
	}
	return len(b), nil
}

func isPlainConnect(line string) bool {
	if !strings.Contains(line, "TLS handshake error") {
		return false
	}
	line = strings.TrimSpace(line)
	return strings.HasSuffix(line, ": EOF") || strings.HasSuffix(line, "connection reset by peer") ||
		strings.Contains(line, "client sent an HTTP request to an HTTPS server")
}

func (a *apiServers) close() {
	for _, srv := range a.nodes {
		srv.Close()
	}
	a.nodes = nil
}

func apiHandler() http.Handler {
	mux := http.NewServeMux()
	for _, p := range []string{"/healthz", "/livez", "/readyz"} {
		mux.HandleFunc(p, func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") })
	}
	mux.HandleFunc("/version", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{
			"major": "1", "minor": "33", "gitVersion": KubernetesVersion,
			"goVersion": runtime.Version(), "platform": runtime.GOOS + "/" + runtime.GOARCH,
		})
	})
	return mux
}

// selfSigned makes the serving certificate with the names kubeadm puts in
// the API server's.
func selfSigned(t *topology.Lab) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	d := t.Networking.DNSDomain
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(1, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    []string{"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc." + d},
		IPAddresses: []net.IP{topology.ServiceIP(t.Networking.ServiceSubnet, 1).AsSlice()},
	}
	for _, n := range t.Nodes {
		tmpl.DNSNames = append(tmpl.DNSNames, n.Name)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
