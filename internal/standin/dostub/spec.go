package dostub

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sync"

	"github.com/oxyhq/oxyctl/internal/testutil/repo"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// SpecRelPath is where the subset spec lives, relative to the repository root
// (the shared folder sits beside the repository).
const SpecRelPath = "../shared/specs/digitalocean-openapi-subset.yaml"

// FindSpec returns the spec beside the repository root (the directory
// holding go.mod).
func FindSpec() (string, error) {
	dir, err := repo.Root()
	if err != nil {
		return "", fmt.Errorf("dostub: %v; set Options.SpecPath", err)
	}
	p := filepath.Join(dir, filepath.FromSlash(SpecRelPath))
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("dostub: spec not found at %s: %w", p, err)
	}
	return p, nil
}

type loadedSpec struct {
	doc *openapi3.T
	err error
}

var (
	specMu    sync.Mutex
	specCache = map[string]*loadedSpec{}
)

// loadSpec parses and validates the spec once per path and process. The
// returned document is shared and must be treated as read-only.
func loadSpec(path string) (*openapi3.T, error) {
	specMu.Lock()
	defer specMu.Unlock()
	if l, ok := specCache[path]; ok {
		return l.doc, l.err
	}
	doc, err := openapi3.NewLoader().LoadFromFile(path)
	if err == nil {
		// Upstream examples do not all match their schemas (see the reference,
		// section 5); the schemas themselves must be valid.
		err = doc.Validate(context.Background(), openapi3.DisableExamplesValidation())
	}
	if err != nil {
		err = fmt.Errorf("dostub: load spec %s: %w", path, err)
	}
	specCache[path] = &loadedSpec{doc: doc, err: err}
	return doc, err
}

var uuidRe = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// formatOptions turns on the string formats the spec uses and kin-openapi
// does not check by itself, scoped to this validator (no global state).
func formatOptions() []openapi3.SchemaValidationOption {
	return []openapi3.SchemaValidationOption{openapi3.WithStringFormatValidators(map[string]openapi3.StringFormatValidator{
		"uuid": openapi3.NewRegexpFormatValidator(uuidRe.String()),
		"ipv4": openapi3.NewIPValidator(true),
		"ipv6": openapi3.NewIPValidator(false),
		"cidr": openapi3.NewCallbackValidator(func(s string) error {
			_, err := netip.ParsePrefix(s)
			return err
		}),
	})}
}

// newRouter builds a router for a copy of the shared document whose only
// server is the stand-in's own URL.
func newRouter(base *openapi3.T, url string) (routers.Router, error) {
	doc := &openapi3.T{
		Extensions:   base.Extensions,
		OpenAPI:      base.OpenAPI,
		Components:   base.Components,
		Info:         base.Info,
		Paths:        base.Paths,
		Security:     base.Security,
		Servers:      openapi3.Servers{{URL: url}},
		Tags:         base.Tags,
		ExternalDocs: base.ExternalDocs,
	}
	return gorillamux.NewRouter(doc)
}

func filterOptions(auth openapi3filter.AuthenticationFunc) *openapi3filter.Options {
	return &openapi3filter.Options{
		IncludeResponseStatus:   true,
		MultiError:              false,
		AuthenticationFunc:      auth,
		SchemaValidationOptions: formatOptions(),
	}
}
