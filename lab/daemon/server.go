package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"kinn.dev/kinn/lab"
)

// Run is the lab process: it serves the CLI on the lab's socket and keeps
// the lab's pods and proxies converged until ctx ends.
func Run(ctx context.Context, o lab.Options, name string) error {
	// Its own edits (a terminated pod leaves) never wait for the lab's
	// lock: the command holding it may be waiting for this process. They
	// are retried on the next tick.
	o.LockWait = -1
	// One lab process per lab: the pid file is locked for its whole life,
	// so a second one started by two racing commands exits at once.
	pidf, err := os.OpenFile(PIDPath(o, name), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	defer pidf.Close()
	if err := syscall.Flock(int(pidf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return fmt.Errorf("another lab process runs for lab %s", name)
	}
	pidf.Truncate(0)
	pidf.WriteString(strconv.Itoa(os.Getpid()))
	defer removeIfSame(PIDPath(o, name), pidf)
	sock := SocketPath(o, name)
	os.Remove(sock) // a dead predecessor's: we hold the lock
	addr, done, err := socketAddr(sock)
	if err != nil {
		return err
	}
	ln, err := net.Listen("unix", addr)
	done()
	if err != nil {
		return err
	}
	if st, err := os.Stat(sock); err == nil {
		defer func() {
			if now, err := os.Stat(sock); err == nil && os.SameFile(st, now) {
				os.Remove(sock)
			}
		}()
	}
	d := newDaemon(o, name)
	defer d.close()
	srv := &http.Server{Handler: d.routes()}
	go srv.Serve(ln)
	defer srv.Close()
	log.Printf("lab process for %s started (pid %d)", name, os.Getpid())
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			log.Printf("lab process for %s stopping", name)
			return nil
		case <-tick.C:
			// Repairs what changed behind the lab's back (a table deleted by
			// hand, a pod namespace recreated) within a second.
			if err := d.reconcile(false); err != nil {
				log.Printf("reconcile: %v", err)
			}
		}
	}
}

// removeIfSame removes path if it is still the file f (not a successor's).
func removeIfSame(path string, f *os.File) {
	a, err1 := f.Stat()
	b, err2 := os.Stat(path)
	if err1 == nil && err2 == nil && os.SameFile(a, b) {
		os.Remove(path)
	}
}

// daemon holds the lab process's live state.
type daemon struct {
	o    lab.Options
	name string
	mu   sync.Mutex
	w    *world
}

func newDaemon(o lab.Options, name string) *daemon {
	d := &daemon{o: o, name: name}
	d.w = newWorld(o, name, &d.mu)
	return d
}

func (d *daemon) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.w.close()
}

// reconcile converges the lab's servers and proxies; reload re-reads the
// recorded state first.
func (d *daemon) reconcile(reload bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.w.reconcile(reload); err != nil {
		return err
	}
	if reload {
		// A reload comes from a command that may hold the lab's lock, which
		// removing a terminated pod takes: the next tick does it.
		return nil
	}
	return d.w.expire()
}

// reloaded answers /reload: what it found changed by hand in the proxy
// tables and put back.
type reloaded struct{ Repaired []string }

// reload re-reads the lab's state and converges to it, and says what it
// repaired in the proxy tables.
func (d *daemon) reload() ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.w.repaired = nil
	err := d.w.reconcile(true)
	return d.w.repaired, err
}

// locked runs f with the daemon's lock held.
func (d *daemon) locked(f func() error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.w.st == nil {
		if err := d.w.reconcile(true); err != nil {
			return err
		}
	}
	return f()
}

func (d *daemon) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ping", func(w http.ResponseWriter, r *http.Request) {
		reply(w, nil, nil) // no lock: it says the process runs, not that it is idle
	})
	mux.HandleFunc("POST /reload", func(w http.ResponseWriter, r *http.Request) {
		repaired, err := d.reload()
		reply(w, reloaded{Repaired: repaired}, err)
	})
	mux.HandleFunc("POST /ready", func(w http.ResponseWriter, r *http.Request) {
		var req podRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			reply(w, nil, err)
			return
		}
		reply(w, nil, d.locked(func() error { return d.w.setReady(req.key(), req.Ready) }))
	})
	mux.HandleFunc("POST /delete-pod", func(w http.ResponseWriter, r *http.Request) {
		var req podRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			reply(w, nil, err)
			return
		}
		reply(w, nil, d.locked(func() error { return d.w.deletePod(req.key(), req.Grace) }))
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		d.mu.Lock()
		s := d.w.status()
		d.mu.Unlock()
		reply(w, s, nil)
	})
	return mux
}

func reply(w http.ResponseWriter, v any, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		w.WriteHeader(statusOf(err))
		json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
		return
	}
	if v == nil {
		v = map[string]string{}
	}
	json.NewEncoder(w).Encode(v)
}

func statusOf(err error) int {
	if errors.Is(err, lab.ErrNotFound) {
		return http.StatusNotFound
	}
	return http.StatusInternalServerError
}
