// Command oxyctl operates the Oxy API's Valkey deployment.
package main

import (
	"os"

	"github.com/oxyhq/oxyctl/internal/app"
)

func main() { os.Exit(app.Main()) }
