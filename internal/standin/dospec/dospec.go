// Package dospec is the repository's one copy of DigitalOcean's OpenAPI
// description, cut down to the operations oxyctl and its stand-in use, with
// the Apache-2.0 licence it is published under beside it. The document is
// embedded, so the DigitalOcean stand-in (and the sandbox that runs it)
// check their traffic against the same document in a test and in
// `make demo`.
//
// digitalocean-openapi-subset.yaml says at its top where it comes from (the
// upstream repository and commit) and what was cut; digitalocean-openapi-LICENSE
// is the upstream licence. Replace both files together when the subset is
// rebuilt; the stand-in's tests then show what changed for it.
package dospec

import (
	"context"
	_ "embed"
	"fmt"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
)

//go:embed digitalocean-openapi-subset.yaml
var subset []byte

// Load parses the document once per process and checks that it is a valid
// OpenAPI 3 description. The returned document is shared: treat it as
// read-only.
func Load() (*openapi3.T, error) { return load() }

var load = sync.OnceValues(func() (*openapi3.T, error) {
	doc, err := openapi3.NewLoader().LoadFromData(subset)
	if err == nil {
		// Some of DigitalOcean's own examples do not match their schemas;
		// the schemas themselves must be valid.
		err = doc.Validate(context.Background(), openapi3.DisableExamplesValidation())
	}
	if err != nil {
		return nil, fmt.Errorf("dospec: %w", err)
	}
	return doc, nil
})
