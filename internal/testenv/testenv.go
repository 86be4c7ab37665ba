// Package testenv holds helpers shared by tests that need a real engine.
//
// Real-engine tests read the engine's address from an EJAZZ_* environment
// variable (printed by `dev/stack env`). When the variable is missing the test
// skips with a message naming it — except under CI (CI=true), where a missing
// engine is a failure: CI must never go green without having run them.
package testenv

import (
	"os"
	"strconv"
	"testing"
)

// InCI reports whether the tests run under CI (CI=true or CI=1).
func InCI() bool {
	v, err := strconv.ParseBool(os.Getenv("CI"))
	return err == nil && v
}

// Require returns the value of the environment variable name. When it is
// unset, the test fails under CI and skips elsewhere, naming the variable and
// how to get it.
func Require(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v != "" {
		return v
	}
	msg := name + " is not set: start the engines with `dev/stack up` and `eval \"$(dev/stack env)\"` (or run `make test`)"
	if InCI() {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// Unreachable reports an engine that is configured but does not answer: a
// failure under CI, a skip elsewhere.
func Unreachable(t testing.TB, engine string, err error) {
	t.Helper()
	if InCI() {
		t.Fatalf("%s is unreachable: %v", engine, err)
	}
	t.Skipf("%s is unreachable (start it with `dev/stack up`): %v", engine, err)
}
