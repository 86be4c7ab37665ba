package sqlite_test

import (
	"testing"

	"github.com/ejazz/ejazz/internal/media"
	"github.com/ejazz/ejazz/internal/media/sqlite"
	"github.com/ejazz/ejazz/internal/storetest"
)

func TestConformance(t *testing.T) {
	storetest.MediaStore(t, func(t *testing.T) media.Store { return sqlite.New(storetest.SQLite(t)) })
}
