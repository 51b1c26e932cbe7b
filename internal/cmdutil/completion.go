package cmdutil

import (
	"context"
	"time"
)

// CompletionTimeout bounds a completion that asks a server: a shell must
// never hang on Tab.
const CompletionTimeout = 2 * time.Second

// CompletionContext is ctx bounded by CompletionTimeout.
func CompletionContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if ctx == nil {
		ctx = context.Background()
	}
	return context.WithTimeout(ctx, CompletionTimeout)
}
