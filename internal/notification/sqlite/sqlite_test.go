package sqlite_test

import (
	"testing"

	"github.com/ejazz/ejazz/internal/notification"
	"github.com/ejazz/ejazz/internal/notification/sqlite"
	"github.com/ejazz/ejazz/internal/storetest"
)

func TestConformance(t *testing.T) {
	storetest.NotificationStore(t, func(t *testing.T) notification.Store { return sqlite.New(storetest.SQLite(t)) })
}

func TestPreferencesConformance(t *testing.T) {
	storetest.PreferenceStore(t, func(t *testing.T) notification.PreferenceStore { return sqlite.NewPreferences(storetest.SQLite(t)) })
}
