package memory_test

import (
	"testing"

	"github.com/ejazz/ejazz/internal/ratelimit"
	"github.com/ejazz/ejazz/internal/ratelimit/memory"
	"github.com/ejazz/ejazz/internal/storetest"
)

func TestConformance(t *testing.T) {
	storetest.RateLimitStore(t, func(*testing.T) ratelimit.Store { return memory.New() })
}
