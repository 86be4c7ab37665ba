package sqlite_test

import (
	"testing"

	"github.com/ejazz/ejazz/internal/account"
	"github.com/ejazz/ejazz/internal/account/sqlite"
	"github.com/ejazz/ejazz/internal/storetest"
)

func TestConformance(t *testing.T) {
	storetest.AccountStore(t, func(t *testing.T) account.Store { return sqlite.New(storetest.SQLite(t)) })
}

func TestSessions(t *testing.T) {
	storetest.SessionStore(t, func(t *testing.T) account.Store { return sqlite.New(storetest.SQLite(t)) })
}

func TestTOTP(t *testing.T) {
	storetest.TOTPStore(t, func(t *testing.T) account.Store { return sqlite.New(storetest.SQLite(t)) })
}

func TestRoles(t *testing.T) {
	storetest.RoleStore(t, func(t *testing.T) account.Store { return sqlite.New(storetest.SQLite(t)) })
}

func TestOIDCState(t *testing.T) {
	storetest.OIDCStore(t, func(t *testing.T) account.Store { return sqlite.New(storetest.SQLite(t)) })
}
