// Command oxyctl-docs regenerates completions/ and man/ (make docs).
package main

import (
	"fmt"
	"os"

	"github.com/oxyhq/oxyctl/internal/docs"
)

func main() {
	dir := "."
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	if err := docs.Generate(dir); err != nil {
		fmt.Fprintf(os.Stderr, "oxyctl-docs: %v\n", err)
		os.Exit(1)
	}
}
