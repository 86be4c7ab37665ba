package sqlite_test

import (
	"testing"

	"github.com/ejazz/ejazz/internal/post"
	"github.com/ejazz/ejazz/internal/post/sqlite"
	"github.com/ejazz/ejazz/internal/storetest"
)

func TestConformance(t *testing.T) {
	storetest.PostStore(t, func(t *testing.T) post.Store { return sqlite.New(storetest.SQLite(t)) })
}
