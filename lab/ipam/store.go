package ipam

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
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
	b, err := os.ReadFile(s.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return Allocations{}, nil
	}
	if err != nil {
		return nil, err
	}
	var a Allocations
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("read %s: %w", s.Path, err)
	}
	return a, nil
}

// Save writes the allocations.
func (s FileStore) Save(a Allocations) error {
	b, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(s.Path, b)
}

// WriteFileAtomic writes via a temporary file and a rename.
func WriteFileAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
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
