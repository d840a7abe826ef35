package workload

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
)

// maxEchoBody bounds a POSTed raw body, so one request cannot exhaust the
// lab process; e2e tests echo a few KiB, kinn promises 64 KiB.
const maxEchoBody = 1 << 20

// handler answers agnhost netexec's HTTP paths for one pod.
type handler struct{ pod PodInfo }

func (h handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/hostname":
		io.WriteString(w, h.pod.hostname()) // no newline: tests compare exactly
	case "/clientip":
		io.WriteString(w, r.RemoteAddr)
	case "/echo":
		h.echo(w, r)
	case "/healthz":
		io.WriteString(w, "ok")
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
