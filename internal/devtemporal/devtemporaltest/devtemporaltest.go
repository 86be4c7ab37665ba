// Package devtemporaltest runs the embedded Temporal server for one test or
// benchmark: its state in the test's temporary directory, a free port, and
// stopped when the test ends.
package devtemporaltest

import (
	"context"
	"path/filepath"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/ejazz/ejazz/internal/devtemporal"
)

// Start runs a server with namespace and the given search attributes and
// returns its frontend address.
func Start(tb testing.TB, namespace string, searchAttributes map[string]enumspb.IndexedValueType) string {
	tb.Helper()
	ts, err := devtemporal.Start(context.Background(), devtemporal.Options{
		DBPath: filepath.Join(tb.TempDir(), "temporal.db"), FrontendAddr: "127.0.0.1:0",
		Namespace: namespace, SearchAttributes: searchAttributes,
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = ts.Stop() })
	return ts.FrontendAddr()
}
