package workload

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
)

// maxEchoBody bounds a POSTed raw body, so one request cannot exhaust the
// lab process; e2e tests echo a few KiB, kinn promises 64 KiB.
const maxEchoBody = 1 << 20

// handler answers agnhost netexec's HTTP paths for one pod.
type handler struct {
	pod    PodInfo
	health *atomic.Int32 // the pod's /healthz status, shared by its ports
}

func (h handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/hostname":
		io.WriteString(w, h.pod.hostname()) // no newline: tests compare exactly
	case "/clientip":
		io.WriteString(w, r.RemoteAddr)
	case "/echo":
		h.echo(w, r)
	case "/healthz":
		h.healthz(w, r)
	case "/shell":
		// agnhost runs any command here; kinn's pods share the lab
		// process, so that would be a root shell on the host.
		http.Error(w, "kinn: /shell is disabled", http.StatusForbidden)
	default:
		h.describe(w, r)
	}
}

// echo returns msg from the query or a form body; a POST whose body is not
// a form is echoed as it is.
func (h handler) echo(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxEchoBody)
	ct := r.Header.Get("Content-Type")
	isForm := strings.HasPrefix(ct, "application/x-www-form-urlencoded") || strings.HasPrefix(ct, "multipart/form-data")
	if r.Method == http.MethodPost && !isForm && r.URL.Query().Get("msg") == "" {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		w.Write(body)
		return
	}
	io.WriteString(w, r.FormValue("msg"))
}

// Description is the JSON answer on any path netexec does not know, so a
// learner's curl shows who answered, and whom it saw.
type Description struct {
	Pod       string `json:"pod"`
	Namespace string `json:"namespace"`
	Node      string `json:"node"`
	PodIP     string `json:"podIP"`
	Client    string `json:"client"`
	Request   string `json:"request"`
}

func (h handler) describe(w http.ResponseWriter, r *http.Request) {
	d := Description{
		Pod: h.pod.Name, Namespace: h.pod.Namespace, Node: h.pod.Node,
		Client:  r.RemoteAddr,
		Request: fmt.Sprintf("%s %s %s", r.Method, r.RequestURI, r.Proto),
	}
	if h.pod.IP.IsValid() {
		d.PodIP = h.pod.IP.String()
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(d)
}

// udpReply answers one netexec UDP datagram. Like agnhost, the text is
// trimmed and the command word is case-insensitive; unlike agnhost,
// anything unknown gets an answer, so a learner's `nc -u` is not left
// waiting.
func udpReply(pod PodInfo, msg []byte, from netip.AddrPort) []byte {
	text := strings.TrimSpace(string(msg))
	cmd, arg, _ := strings.Cut(text, " ")
	switch strings.ToLower(cmd) {
	case "hostname":
		return []byte(pod.hostname())
	case "clientip":
		return []byte(from.String())
	case "echo":
		return []byte(arg)
	}
	return []byte(fmt.Sprintf("error: unknown command %q; want hostname, clientip or echo <text>", cmd))
}

// healthz answers "ok" as agnhost does, or the status a POST set. agnhost
// has no way to fail on purpose; kinn's stand-in takes `POST
// /healthz?status=503` (any 200-599) so a learner can break a pod's
// readiness from inside, as a sick application would (`kinn exec POD --
// curl -X POST 'localhost:8080/healthz?status=503'`), and `?status=200`
// mends it. The status holds for every port of the pod until it stops.
func (h handler) healthz(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		code, err := strconv.Atoi(r.URL.Query().Get("status"))
		if err != nil || code < 200 || code > 599 {
			http.Error(w, "kinn: POST /healthz?status=CODE with a CODE from 200 to 599 (200 is healthy)", http.StatusBadRequest)
			return
		}
		h.health.Store(int32(code))
		fmt.Fprintf(w, "/healthz now answers %d\n", code)
		return
	}
	code := int(h.health.Load())
	if code == 0 || code == http.StatusOK {
		io.WriteString(w, "ok")
		return
	}
	w.WriteHeader(code)
	fmt.Fprintf(w, "kinn: /healthz answers %d on purpose; POST /healthz?status=200 mends it\n", code)
}
