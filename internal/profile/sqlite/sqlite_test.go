package sqlite_test

import (
	"testing"

	"github.com/ejazz/ejazz/internal/profile"
	"github.com/ejazz/ejazz/internal/profile/sqlite"
	"github.com/ejazz/ejazz/internal/storetest"
)

func TestConformance(t *testing.T) {
	storetest.ProfileStore(t, func(t *testing.T) profile.Store { return sqlite.New(storetest.SQLite(t)) })
}
