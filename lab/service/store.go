package service

import (
	"maps"

	"kinn.dev/kinn/lab/ipam"
)

// Store keeps Service allocations between runs, as ipam.Store keeps pod
// addresses.
type Store interface {
	Load() (Allocations, error)
	Save(Allocations) error
}

// FileStore keeps allocations as JSON in one file of the lab's state
// directory, written atomically so that a kill mid-write keeps the old one.
type FileStore struct{ Path string }

var _ Store = FileStore{}

// Load returns no allocations when the file does not exist yet.
func (s FileStore) Load() (Allocations, error) { return ipam.ReadJSON[Allocations](s.Path) }

// Save writes the allocations.
func (s FileStore) Save(a Allocations) error { return ipam.WriteJSON(s.Path, a) }

// MemStore is an in-memory Store for tests.
type MemStore struct{ A Allocations }

var _ Store = (*MemStore)(nil)

// Load returns a copy, so that callers cannot change what was saved.
func (m *MemStore) Load() (Allocations, error) { return m.A.clone(), nil }

func (m *MemStore) Save(a Allocations) error { m.A = a.clone(); return nil }

func (a Allocations) clone() Allocations {
	return Allocations{ClusterIPs: maps.Clone(a.ClusterIPs), NodePorts: maps.Clone(a.NodePorts), HealthCheck: maps.Clone(a.HealthCheck),
		LoadBalancerIPs: maps.Clone(a.LoadBalancerIPs), IPMode: a.IPMode}
}
