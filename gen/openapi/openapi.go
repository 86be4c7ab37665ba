// Package openapi embeds the generated OpenAPI 3 document of the Ejazz REST mapping (openapi.yaml, written by
// gnostic's protoc-gen-openapi from the google.api.http annotations in apis/). This file is the one hand-written
// file under gen/: buf.gen.yaml runs without `clean` so that regeneration keeps it, and dev/check-generated skips it.
// Regenerate the document with: go tool -modfile=tools/go.mod buf generate
package openapi

import _ "embed"

// YAML is the merged OpenAPI 3 document for every Ejazz service, as generated (YAML).
//
//go:embed openapi.yaml
var YAML []byte
