// Package importrules holds no code: its test checks, with `go list`, the
// import rules of STYLE.md §1 and §10 (run by `make lint`):
//
//   - the shipped program, ./cmd/oxyctl, links no test helper, stand-in or
//     testing package;
//   - domain packages import no CLI layer (cobra, lipgloss, iostreams, output,
//     cmdutil, app, cmd/...), directly or through another package.
//
// A new internal package must be classified in importrules_test.go.
package importrules
