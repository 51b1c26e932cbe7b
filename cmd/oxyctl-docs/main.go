// Command oxyctl-docs regenerates completions/ and man/ (make docs).
//
//	oxyctl-docs [DIR]                  regenerate DIR/completions and DIR/man
//	oxyctl-docs -gzip-man OUT [DIR]    write OUT/*.1.gz from the committed DIR/man (the packages' man pages)
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/oxyhq/oxyctl/internal/docs"
)

func main() {
	gzipMan := flag.String("gzip-man", "", "write gzipped copies of the man pages into this directory instead of regenerating")
	flag.Parse()
	dir := "."
	if flag.NArg() > 0 {
		dir = flag.Arg(0)
	}
	var err error
	if *gzipMan != "" {
		err = docs.GzipMan(dir, *gzipMan)
	} else {
		err = docs.Generate(dir)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "oxyctl-docs: %v\n", err)
		os.Exit(1)
	}
}
