package dostub

import (
	"net/netip"
	"regexp"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

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
