package postgres_test

import (
	"testing"

	"github.com/ejazz/ejazz/internal/notification"
	"github.com/ejazz/ejazz/internal/notification/postgres"
	"github.com/ejazz/ejazz/internal/storetest"
)

func TestPreferencesConformance(t *testing.T) {
	storetest.PreferenceStore(t, func(t *testing.T) notification.PreferenceStore { return postgres.NewPreferences(storetest.Postgres(t)) })
}
