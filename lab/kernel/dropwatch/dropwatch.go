// Package dropwatch collects the kernel's own reasons for dropping chosen
// packets: a BPF program on the skb:kfree_skb tracepoint reports every
// freed IPv4 packet that matches a filter (a TOS marker the tracer sets on
// its probe, or addresses and ports) with its drop reason ("NO_SOCKET",
// "NETFILTER_DROP", "IP_INNOROUTES"), the network namespace and device it was
// in, and the kernel function that dropped it.
//
// The program is assembled at Start from cilium/ebpf's asm package (no
// clang, no CO-RE): layout.go reads the structure offsets and the drop
// reason names from the running kernel's BTF, program.go writes the
// instructions. It is attached as a raw tracepoint, which needs neither
// kprobes nor tracefs. Close detaches and unloads everything; nothing is
// pinned, so a killed process leaves nothing behind either (the kernel
// frees programs and links with their last file descriptor).
package dropwatch

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"
)

// ErrUnsupported means this kernel cannot report drop reasons (no BTF, no
// skb:kfree_skb tracepoint or no reason in it, no BPF): callers fall back
// to what they can see otherwise.
var ErrUnsupported = errors.New("kernel drop reasons unavailable")

// Filter chooses the packets to report; zero fields match anything, but a
// filter must set at least one (every drop on the host is too many).
type Filter struct {
	TOS, TOSMask     uint8 // IPv4 TOS byte & TOSMask == TOS; mask 0 ignores it
	Proto            uint8 // IP protocol number: 1 ICMP, 6 TCP, 17 UDP
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
}

// Drop is one packet the kernel dropped.
type Drop struct {
	Time       time.Time
	Netns      uint64 // the namespace's inode, as kernel.NetnsID gives it; 0 unknown
	Ifindex    int    // the packet's device in that namespace; 0 none yet
	Reason     string // "NO_SOCKET", "NETFILTER_DROP", ...
	ReasonCode uint32
	Location   uint64 // the address of the kernel code that dropped it
	Symbol     string // Location as function+offset, "" if unknown
	Proto      uint8
	TOS        uint8
	Src, Dst   netip.Addr
	SrcPort    uint16
	DstPort    uint16
}

func (d Drop) String() string {
	return fmt.Sprintf("%s netns %d if %d proto %d %s:%d -> %s:%d at %s",
		d.Reason, d.Netns, d.Ifindex, d.Proto, d.Src, d.SrcPort, d.Dst, d.DstPort, d.Symbol)
}

// Watch is a running collector.
type Watch struct {
	events, config *ebpf.Map
	prog           *ebpf.Program
	link           link.Link
	reader         *ringbuf.Reader
	progID         ebpf.ProgramID
	layout         *layout
	bootTime       time.Time

	out      chan Drop
	done     chan struct{}
	stop     chan struct{}
	stopOnce sync.Once
	mu       sync.Mutex
	lost     int
}

// Start loads and attaches the collector. It stops when ctx ends or Close
// is called.
func Start(ctx context.Context, f Filter) (*Watch, error) {
	cfg, err := f.encode()
	if err != nil {
		return nil, err
	}
	l, err := kernelLayout()
	if err != nil {
		return nil, err
	}
	go kernelSymbols() // 0.1 s of /proc/kallsyms, overlapped with loading
	w := &Watch{layout: l, bootTime: bootTime(),
		out: make(chan Drop, 1024), done: make(chan struct{}), stop: make(chan struct{})}
	if err := w.load(cfg); err != nil {
		w.release()
		return nil, err
	}
	go w.collect()
	go func() {
		select {
		case <-ctx.Done():
			w.Close()
		case <-w.stop:
		}
	}()
	return w, nil
}

func (w *Watch) load(cfg []byte) error {
	var err error
	if w.config, err = ebpf.NewMap(&ebpf.MapSpec{Name: "kinn_drop_cfg", Type: ebpf.Array,
		KeySize: 4, ValueSize: configSize, MaxEntries: 1}); err != nil {
		return unsupported("create the filter map", err)
	}
	if err := w.config.Put(uint32(0), cfg); err != nil {
		return fmt.Errorf("set the drop filter: %w", err)
	}
	if w.events, err = ebpf.NewMap(&ebpf.MapSpec{Name: "kinn_drops", Type: ebpf.RingBuf,
		MaxEntries: 64 << 10}); err != nil {
		return unsupported("create the drop ring buffer", err)
	}
	w.prog, err = ebpf.NewProgramWithOptions(&ebpf.ProgramSpec{Name: "kinn_dropwatch",
		Type: ebpf.RawTracepoint, License: "GPL", Instructions: program(w.layout, w.config, w.events)},
		ebpf.ProgramOptions{LogLevel: ebpf.LogLevelBranch})
	if err != nil {
		return unsupported("load the drop program", err)
	}
	if info, err := w.prog.Info(); err == nil {
		w.progID, _ = info.ID()
	}
	if w.link, err = link.AttachRawTracepoint(link.RawTracepointOptions{Name: "kfree_skb", Program: w.prog}); err != nil {
		return unsupported("attach to skb:kfree_skb", err)
	}
	if w.reader, err = ringbuf.NewReader(w.events); err != nil {
		return fmt.Errorf("read the drop ring buffer: %w", err)
	}
	return nil
}

// unsupported wraps errors that mean this kernel lacks what is needed, so
// callers can fall back; others (out of memory) stay plain errors.
func unsupported(what string, err error) error {
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EOPNOTSUPP) ||
		errors.Is(err, unix.ENOSYS) || errors.Is(err, ebpf.ErrNotSupported) {
		return fmt.Errorf("%w: %s: %v", ErrUnsupported, what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Events delivers the drops as they come; it is closed when Close has
// finished (everything unloaded), after every drop reported before it.
func (w *Watch) Events() <-chan Drop { return w.out }

// Lost counts drops not delivered because Events was not read fast enough.
func (w *Watch) Lost() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lost
}

// Close detaches the program, delivers what was already reported, and
// unloads everything.
func (w *Watch) Close() error {
	w.stopOnce.Do(func() {
		w.link.Close() // no new events from here on
		close(w.stop)
		w.reader.Flush() // deliver what is there, then ErrFlushed
		<-w.done
		w.release()
		w.waitUnloaded()
		close(w.out)
	})
	return nil
}

// waitUnloaded waits, for at most a second, until the kernel has freed the
// program: closing the link detaches it at once, but the link lets go of
// the program only after an RCU grace period (about 20 ms here), and a
// caller that checks right after Close must find nothing.
func (w *Watch) waitUnloaded() {
	if w.progID == 0 {
		return
	}
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		// The next ID after id-1 is id while it exists; asking takes no
		// reference, unlike opening it by ID.
		if next, err := ebpf.ProgramGetNextID(w.progID - 1); err != nil || next != w.progID {
			return
		}
	}
}

func (w *Watch) release() {
	for _, c := range []interface{ Close() error }{w.link, w.reader, w.prog, w.events, w.config} {
		if c != nil && !isNilCloser(c) {
			c.Close()
		}
	}
}

// isNilCloser tells typed nil pointers apart (a failed Start).
func isNilCloser(c interface{ Close() error }) bool {
	switch v := c.(type) {
	case *ringbuf.Reader:
		return v == nil
	case *ebpf.Program:
		return v == nil
	case *ebpf.Map:
		return v == nil
	}
	return false
}

func (w *Watch) collect() {
	defer close(w.done)
	var rec ringbuf.Record
	for {
		err := w.reader.ReadInto(&rec)
		if errors.Is(err, ringbuf.ErrFlushed) || errors.Is(err, os.ErrClosed) {
			return
		}
		if err != nil || len(rec.RawSample) < eventSize {
			continue
		}
		select {
		case w.out <- w.parse(rec.RawSample):
		default:
			w.mu.Lock()
			w.lost++
			w.mu.Unlock()
		}
	}
}

func (w *Watch) parse(b []byte) Drop {
	le := binary.LittleEndian
	d := Drop{
		Time:       w.bootTime.Add(time.Duration(le.Uint64(b[evTime:]))),
		Location:   le.Uint64(b[evLocation:]),
		Netns:      uint64(le.Uint32(b[evNetns:])),
		Ifindex:    int(le.Uint32(b[evIfindex:])),
		ReasonCode: le.Uint32(b[evReason:]),
		Src:        netip.AddrFrom4([4]byte(b[evSrc : evSrc+4])),
		Dst:        netip.AddrFrom4([4]byte(b[evDst : evDst+4])),
		SrcPort:    binary.BigEndian.Uint16(b[evSport:]),
		DstPort:    binary.BigEndian.Uint16(b[evDport:]),
		Proto:      b[evProto],
		TOS:        b[evTOS],
	}
	d.Reason = w.layout.reasons[d.ReasonCode]
	if d.Reason == "" {
		d.Reason = fmt.Sprintf("reason %d", d.ReasonCode)
	}
	d.Symbol = kernelSymbols().lookup(d.Location)
	return d
}

// encode lays the filter out as the program reads it.
func (f Filter) encode() ([]byte, error) {
	if f == (Filter{}) {
		return nil, errors.New("drop filter: set a TOS marker, a protocol, an address or a port")
	}
	b := make([]byte, configSize)
	b[cfgTOS], b[cfgTOSMask], b[cfgProto] = f.TOS&f.TOSMask, f.TOSMask, f.Proto
	for _, a := range []struct {
		addr netip.Addr
		off  int
	}{{f.Src, cfgSrc}, {f.Dst, cfgDst}} {
		if !a.addr.IsValid() {
			continue
		}
		if !a.addr.Unmap().Is4() {
			return nil, fmt.Errorf("drop filter: %s is not IPv4 (only IPv4 is watched)", a.addr)
		}
		v4 := a.addr.Unmap().As4()
		copy(b[a.off:], v4[:])
	}
	binary.BigEndian.PutUint16(b[cfgSport:], f.SrcPort)
	binary.BigEndian.PutUint16(b[cfgDport:], f.DstPort)
	return b, nil
}

// bootTime is the wall time of CLOCK_MONOTONIC's zero, to turn the
// program's bpf_ktime_get_ns into times.
func bootTime() time.Time {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return time.Now().Add(-time.Duration(ts.Nano()))
}
