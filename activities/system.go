// Package activities holds Ejazz's Temporal activities: structs that hold the
// store ports they need, one file per area, registered once per worker
// (`w.RegisterActivity(&activities.System{…})`). Activities are where I/O
// happens; they must be idempotent, since Temporal retries them.
package activities

import (
	"context"
	"sort"

	"github.com/ejazz/ejazz/internal/storage"
)

// ProbeOK is the probe result of a store that answered.
const ProbeOK = "ok"

// System holds platform housekeeping activities.
type System struct {
	// Stores are probed by ProbeStores.
	Stores []storage.Store
}

// ProbeResult maps each store's name to "ok" or its error.
type ProbeResult struct {
	Stores map[string]string
	// Healthy is true when every store answered.
	Healthy bool
}

// ProbeStores pings every store the worker holds. A failing store is reported,
// not retried: the result is the point.
func (s *System) ProbeStores(ctx context.Context) (*ProbeResult, error) {
	out := &ProbeResult{Stores: map[string]string{}, Healthy: true}
	stores := append([]storage.Store(nil), s.Stores...)
	sort.Slice(stores, func(i, j int) bool { return stores[i].Name() < stores[j].Name() })
	for _, st := range stores {
		if err := st.Ping(ctx); err != nil {
			out.Stores[st.Name()] = err.Error()
			out.Healthy = false
			continue
		}
		out.Stores[st.Name()] = ProbeOK
	}
	return out, nil
}
