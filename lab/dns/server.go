package dns

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"

	"github.com/miekg/dns"
)

// Server answers from the latest Zone over UDP and TCP. It takes sockets
// rather than addresses so the caller can open them inside a network
// namespace. The zero value answers SERVFAIL until the first Update, as
// CoreDNS does before it has synced with the API.
type Server struct {
	zone atomic.Pointer[Zone]

	mu     sync.Mutex
	closed bool
	runs   []*run
}

// NewServer returns a Server answering from z.
func NewServer(z *Zone) *Server {
	s := new(Server)
	s.Update(z)
	return s
}

// Update makes every later answer come from z.
func (s *Server) Update(z *Zone) { s.zone.Store(z) }

// Serve answers queries on pc (UDP) and ln (TCP); either may be nil. It
// blocks until Shutdown, or until either socket fails, and closes both
// before returning. After Shutdown it returns nil.
func (s *Server) Serve(pc net.PacketConn, ln net.Listener) error {
	var runs []*run
	if pc != nil {
		runs = append(runs, newRun(&dns.Server{PacketConn: pc, Handler: s.handler(true)}))
	}
	if ln != nil {
		runs = append(runs, newRun(&dns.Server{Listener: ln, Handler: s.handler(false)}))
	}
	if len(runs) == 0 {
		return errors.New("serve dns: no socket to serve")
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		closeAll(pc, ln)
		return nil
	}
	s.runs = append(s.runs, runs...)
	s.mu.Unlock()

	errs := make(chan error, len(runs))
	for _, r := range runs {
		go func() { errs <- r.serve() }()
	}
	err := <-errs
	// One transport stopped: stop the other too, so that Serve's caller
	// sees the server as one thing.
	for _, r := range runs {
		_ = r.stop(context.Background())
	}
	for range len(runs) - 1 {
		err = errors.Join(err, <-errs)
	}
	closeAll(pc, ln)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	return err
}

// Shutdown stops every Serve, waiting for answers in flight until ctx
// ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	runs := s.runs
	s.mu.Unlock()
	var err error
	for _, r := range runs {
		err = errors.Join(err, r.stop(ctx))
	}
	return err
}

func (s *Server) handler(udp bool) dns.HandlerFunc {
	return func(w dns.ResponseWriter, req *dns.Msg) {
		var m *dns.Msg
		if z := s.zone.Load(); z != nil {
			m = z.Answer(req)
		} else {
			m = new(dns.Msg).SetRcode(req, dns.RcodeServerFailure)
		}
		m.Truncate(maxSize(req, udp))
		// Truncate leaves small answers uncompressed; compressing them
		// too changes no answer and keeps UDP replies below the sizes
		// that fragment.
		m.Compress = true
		_ = w.WriteMsg(m) // a client that went away needs no answer
	}
}

// maxSize is the largest reply the client takes: over UDP, what its EDNS0
// record offers, at least RFC 1035's 512 bytes; over TCP, a whole message.
func maxSize(req *dns.Msg, udp bool) int {
	switch {
	case !udp:
		return dns.MaxMsgSize
	case req.IsEdns0() != nil:
		return max(int(req.IsEdns0().UDPSize()), dns.MinMsgSize)
	}
	return dns.MinMsgSize
}

func closeAll(pc net.PacketConn, ln net.Listener) {
	if pc != nil {
		_ = pc.Close()
	}
	if ln != nil {
		_ = ln.Close()
	}
}

// run is one miekg server. Its Shutdown fails unless the server has
// started, and a server may fail before it starts, so stop waits for
// whichever comes first.
type run struct {
	srv     *dns.Server
	started chan struct{}
	done    chan struct{}
	once    sync.Once
	err     error
}

func newRun(srv *dns.Server) *run {
	r := &run{srv: srv, started: make(chan struct{}), done: make(chan struct{})}
	srv.NotifyStartedFunc = func() { close(r.started) }
	return r
}

func (r *run) serve() error {
	defer close(r.done)
	return r.srv.ActivateAndServe()
}

func (r *run) stop(ctx context.Context) error {
	select {
	case <-r.started:
	case <-r.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	r.once.Do(func() { r.err = r.srv.ShutdownContext(ctx) })
	return r.err
}
