package ipam

import (
	"os"
	"path/filepath"
)

// Store keeps allocations between runs of `kinn up`.
type Store interface {
	Load() (Allocations, error)
	Save(Allocations) error
}

// FileStore keeps allocations as JSON in one file of the lab's state
// directory, written atomically so a kill mid-write leaves the old file.
type FileStore struct{ Path string }

var _ Store = FileStore{}

// Load returns no allocations when the file does not exist yet.
func (s FileStore) Load() (Allocations, error) {
	a, err := ReadJSON[Allocations](s.Path)
	if a == nil {
		a = Allocations{}
	}
	return a, err
}

// Save writes the allocations.
func (s FileStore) Save(a Allocations) error { return WriteJSON(s.Path, a) }

// WriteFileAtomic writes via a temporary file and a rename.
func WriteFileAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	// A temporary name of its own: two writers of one file (two `kinn
	// exec` of one pod) must not rename each other's half-written file.
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// MemStore is an in-memory Store for tests.
type MemStore struct{ A Allocations }

var _ Store = (*MemStore)(nil)

func (m *MemStore) Load() (Allocations, error) {
	out := Allocations{}
	for k, v := range m.A {
		out[k] = v
	}
	return out, nil
}

func (m *MemStore) Save(a Allocations) error { m.A = a; return nil }
