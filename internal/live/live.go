// Package live holds settings that change while a process runs (config hot
// reload) and are read on hot paths without locks.
package live

import "sync/atomic"

// Int is an integer setting that can change while the process runs
// (config hot reload, e.g. feed.fanout_threshold). Its zero value is unset.
type Int struct {
	set atomic.Bool
	v   atomic.Int64
}

// Get returns the value set last, or def when none was set.
func (l *Int) Get(def int) int {
	if l.set.Load() {
		return int(l.v.Load())
	}
	return def
}

// Set replaces the value; readers see it from their next Get.
func (l *Int) Set(n int) {
	l.v.Store(int64(n))
	l.set.Store(true)
}
