package postgres_test

import (
	"testing"

	"github.com/ejazz/ejazz/internal/profile"
	"github.com/ejazz/ejazz/internal/profile/postgres"
	"github.com/ejazz/ejazz/internal/storetest"
)

func TestConformance(t *testing.T) {
	storetest.ProfileStore(t, func(t *testing.T) profile.Store { return postgres.New(storetest.Postgres(t)) })
}
