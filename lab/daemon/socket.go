package daemon

import (
	"fmt"
	"os"
	"path/filepath"
)

// maxSocketPath is what a unix socket address holds (sun_path is 108 bytes
// with its NUL). A lab's socket lives in its runtime directory, whose path
// a user chooses (--run-dir) and lengthens with the lab's name.
const maxSocketPath = 107

// socketAddr is an address for the unix socket at path that always fits:
// the path itself, or, when it is too long, the same file reached through
// an open descriptor of its directory (/proc/self/fd/N/kinn.sock), which
// the kernel resolves at bind and connect like any path. done closes the
// descriptor once the bind or connect is over.
func socketAddr(path string) (addr string, done func(), err error) {
	if len(path) <= maxSocketPath {
		return path, func() {}, nil
	}
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return "", nil, err
	}
	return fmt.Sprintf("/proc/self/fd/%d/%s", dir.Fd(), filepath.Base(path)), func() { dir.Close() }, nil
}
