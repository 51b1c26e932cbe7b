// Package build carries the release's version, commit and date, set by
// ldflags (-X github.com/oxyhq/oxyctl/internal/build.Version=...), with a
// fallback to the module's build information for `go install` builds.
package build

import (
	"runtime"
	"runtime/debug"
)

// Set by ldflags at release time.
var (
	Version = ""
	Commit  = ""
	Date    = ""
)

// Info is what `oxyctl version` reports.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Date      string `json:"date"`
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"`
}

// Get returns the build information, filling gaps from debug.ReadBuildInfo.
func Get() Info {
	i := Info{Version: Version, Commit: Commit, Date: Date, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if i.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			i.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if i.Commit == "" {
					i.Commit = s.Value
				}
			case "vcs.time":
				if i.Date == "" {
					i.Date = s.Value
				}
			}
		}
	}
	if i.Version == "" {
		i.Version = "dev"
	}
	if i.Commit == "" {
		i.Commit = "none"
	}
	if i.Date == "" {
		i.Date = "unknown"
	}
	return i
}
