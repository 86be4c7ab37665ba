package postgres_test

import (
	"testing"

	"github.com/ejazz/ejazz/internal/media"
	"github.com/ejazz/ejazz/internal/media/postgres"
	"github.com/ejazz/ejazz/internal/storetest"
)

func TestConformance(t *testing.T) {
	storetest.MediaStore(t, func(t *testing.T) media.Store { return postgres.New(storetest.Postgres(t)) })
}
