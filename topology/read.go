package topology

import (
	"context"
	"fmt"
	"io"
	"os"
)

// MaxFileSize is the most kinn reads of any file a user names (a topology,
// an applied file, a CNI configuration list): far above any real one, and
// small enough that `-f /dev/zero` fails in milliseconds instead of filling
// memory.
const MaxFileSize = 8 << 20

// ReadFile reads a file a user named, at most MaxFileSize bytes, and gives
// up when ctx ends: a FIFO nobody writes to, or a slow device, must not
// make kinn deaf to Ctrl-C.
func ReadFile(ctx context.Context, path string) ([]byte, error) {
	f, err := open(ctx, path)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { f.Close() }) // unblocks a pending read
	defer func() {
		if stop() {
			f.Close()
		}
	}()
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if ctx.Err() != nil {
		return nil, fmt.Errorf("read %s: %w", path, ctx.Err())
	}
	if err != nil {
		return nil, err
	}
	if len(b) > MaxFileSize {
		return nil, fmt.Errorf("%s is larger than %d MiB, the most kinn reads of a file", path, MaxFileSize>>20)
	}
	return b, nil
}

// open opens path for reading, giving up when ctx ends: opening a FIFO
// blocks until someone opens it for writing. The abandoned open finishes
// (and its file is closed) if a writer ever comes.
func open(ctx context.Context, path string) (*os.File, error) {
	type opened struct {
		f   *os.File
		err error
	}
	c := make(chan opened, 1)
	go func() {
		f, err := os.Open(path)
		c <- opened{f, err}
	}()
	select {
	case o := <-c:
		return o.f, o.err
	case <-ctx.Done():
		go func() {
			if o := <-c; o.f != nil {
				o.f.Close()
			}
		}()
		return nil, fmt.Errorf("open %s: %w", path, ctx.Err())
	}
}
