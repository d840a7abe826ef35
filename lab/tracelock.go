package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// fileTraceLock is held by a running `kinn trace` for as long as its trace
// tables exist. Traces of one lab take turns: they share the probe's marker
// (DSCP and conntrack label), so two at once would each see the other's
// packets. `kinn up` removes trace tables only when it can take the lock:
// then any it finds were left by a killed trace (the kernel releases a
// killed process's locks), never taken from a running one.
const fileTraceLock = "trace.lock"

// traceLock is a held trace lock. Its file lists the namespaces the
// trace may mark while it runs, and is emptied once they are clean: a
// trace killed in between leaves the list to `kinn up`.
type traceLock struct{ f *os.File }

// lockTrace waits (until ctx ends) for the lab's trace lock.
func lockTrace(ctx context.Context, o Options, name string) (*traceLock, error) {
	f, err := openTraceLock(o, name)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return &traceLock{f}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("trace lock %s: %w", f.Name(), err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for another kinn trace of lab %s to end: %w", name, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// tryLockTrace takes the lab's trace lock if no trace holds it.
func tryLockTrace(o Options, name string) (*traceLock, bool, error) {
	f, err := openTraceLock(o, name)
	if err != nil {
		return nil, false, err
	}
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		f.Close()
		return nil, false, nil
	}
	if err != nil {
		f.Close()
		return nil, false, fmt.Errorf("trace lock %s: %w", f.Name(), err)
	}
	return &traceLock{f}, true, nil
}

func (l *traceLock) unlock() { l.f.Close() }

// mayMark writes the namespaces a trace may mark, before it marks any,
// after those an earlier trace left (its cleanup failed): they stay
// listed until cleaned.
func (l *traceLock) mayMark(nss []string) error {
	all := append(l.leftMarked(), nss...)
	slices.Sort(all)
	all = slices.Compact(all)
	if err := l.f.Truncate(0); err != nil {
		return err
	}
	_, err := l.f.WriteAt([]byte(strings.Join(all, "\n")+"\n"), 0)
	return err
}

// clean empties the list: every namespace of it is unmarked.
func (l *traceLock) clean() error { return l.f.Truncate(0) }

// leftMarked is the list a killed trace left ("" lines aside).
func (l *traceLock) leftMarked() []string {
	b, err := io.ReadAll(io.NewSectionReader(l.f, 0, 1<<30))
	if err != nil {
		return nil
	}
	return strings.Fields(string(b))
}

// openTraceLock opens the lock file in the lab's runtime directory, which
// exists for as long as the lab does (it is not created for a lab that has
// none: a trace needs a lab that is up).
func openTraceLock(o Options, name string) (*os.File, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(o.RuntimeDir(name), fileTraceLock), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("trace lock of lab %s: %w", name, err)
	}
	return f, nil
}
