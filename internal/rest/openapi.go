package rest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ejazz/ejazz/gen/openapi"
)

// Paths at which OpenAPIHandler serves the OpenAPI document.
const (
	// OpenAPIJSONPath serves the document as JSON.
	OpenAPIJSONPath = "/openapi.json"
	// OpenAPIYAMLPath serves the document as generated (YAML).
	OpenAPIYAMLPath = "/openapi.yaml"
)

// openAPIJSON converts the embedded YAML document to JSON once.
var openAPIJSON = sync.OnceValues(func() ([]byte, error) {
	var doc any
	if err := yaml.Unmarshal(openapi.YAML, &doc); err != nil {
		return nil, fmt.Errorf("rest: decode generated openapi.yaml: %w", err)
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("rest: encode openapi document as JSON: %w", err)
	}
	return b, nil
})

// OpenAPIJSON returns the OpenAPI 3 document of the REST mapping (generated into gen/openapi from the
// google.api.http annotations) as JSON.
func OpenAPIJSON() ([]byte, error) { return openAPIJSON() }

// OpenAPIHandler serves the OpenAPI document: JSON at GET OpenAPIJSONPath, YAML at GET OpenAPIYAMLPath (HEAD and
// conditional requests too); any other path answers 404. Mount it at both paths, or at the one you publish.
func OpenAPIHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+OpenAPIJSONPath, func(w http.ResponseWriter, r *http.Request) {
		b, err := OpenAPIJSON()
		if err != nil {
			http.Error(w, "openapi document unavailable", http.StatusInternalServerError)
			return
		}
		serveDoc(w, r, "application/json", b)
	})
	mux.HandleFunc("GET "+OpenAPIYAMLPath, func(w http.ResponseWriter, r *http.Request) {
		serveDoc(w, r, "application/yaml", openapi.YAML)
	})
	return mux
}

func serveDoc(w http.ResponseWriter, r *http.Request, contentType string, b []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Cache-Control", "public, max-age=300")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(b))
}
