# oxyctl: `make demo` shows it working against a local sandbox; `make test` is
# the whole test suite (what CI runs through .ci/run).
SHELL     := /bin/bash
.SHELLFLAGS := -o pipefail -c
GO        ?= go
BIN       ?= bin/oxyctl
PKG       := github.com/oxyhq/oxyctl
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null || echo none)
DATE      ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS   := -s -w -X $(PKG)/internal/build.Version=$(VERSION) -X $(PKG)/internal/build.Commit=$(COMMIT) -X $(PKG)/internal/build.Date=$(DATE)
FUZZTIME  ?= 10s

.PHONY: build test setup lint deadcode unit e2e fuzz release-check demo docs bench clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/oxyctl

## test: lint first (it needs only Go), then install what is missing, the race-checked suite against real servers, short fuzz runs
test: lint setup unit e2e fuzz release-check

setup:
	./.ci/setup

## lint: gofmt, go vet, a tidy go.mod, staticcheck (pinned), the import rules (internal/importrules)
STATICCHECK_VERSION := v0.8.2
STATICCHECK := bin/tools/staticcheck-$(STATICCHECK_VERSION)/staticcheck

lint: $(STATICCHECK)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@out=$$($(GO) mod tidy -diff) || { echo "go.mod or go.sum is not tidy (run go mod tidy and commit):"; echo "$$out"; exit 1; }
	$(STATICCHECK) ./...
	$(GO) test -count=1 ./internal/importrules

# Installed once into a directory named for the version, so bumping the pin reinstalls.
$(STATICCHECK):
	GOBIN=$(CURDIR)/$(@D) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

## deadcode: functions no program reaches (an audit, not a gate: test seams such as iostreams' setters show up)
DEADCODE_VERSION := v0.48.0
DEADCODE := bin/tools/deadcode-$(DEADCODE_VERSION)/deadcode

deadcode: $(DEADCODE)
	$(DEADCODE) ./...

$(DEADCODE):
	GOBIN=$(CURDIR)/$(@D) $(GO) install golang.org/x/tools/cmd/deadcode@$(DEADCODE_VERSION)

unit:
	OXYCTL_REQUIRE_SERVERS=1 $(GO) test -race -count=1 -timeout 20m $$($(GO) list ./... | grep -v /internal/e2e$$)

## e2e: the built entry point against real servers: bad input matrix, faults, secrets (with their counts)
e2e:
	OXYCTL_REQUIRE_SERVERS=1 $(GO) test -race -count=1 -timeout 15m -v ./internal/e2e | grep -E '^(bad input|faults|secrets|leaks):|^\s*--- FAIL|_test.go:[0-9]+:|^(ok|FAIL|PASS)\b'

## fuzz: every Fuzz target of the module for FUZZTIME each
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "fuzz: $$pkg $$f ($(FUZZTIME))"; \
			out=$$($(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg 2>&1) || { echo "$$out" | tail -40; exit 1; }; \
		done; \
	done

## release-check: goreleaser check, then a snapshot build of one target that must report its version
GORELEASER ?= $(shell command -v goreleaser 2>/dev/null || echo $$($(GO) env GOPATH)/bin/goreleaser)
release-check:
	@[ -x "$(GORELEASER)" ] || { echo "release-check: installing goreleaser v2.15.1 from the Go module proxy"; $(GO) install github.com/goreleaser/goreleaser/v2@v2.15.1; }
	$(GORELEASER) check
	GOOS=linux GOARCH=amd64 $(GORELEASER) build --snapshot --clean --single-target --id oxyctl -o dist/oxyctl-snapshot
	@out=$$(dist/oxyctl-snapshot version) && echo "release-check: $$out" && echo "$$out" | grep -Eq '^oxyctl [0-9]+\.[0-9]+\.[0-9]+-next \(commit ' || { echo "release-check: snapshot binary does not report its version"; exit 1; }

demo:
	$(GO) run ./cmd/oxyctl-sandbox

docs:
	$(GO) run ./cmd/oxyctl-docs

bench:
	./.ci/bench

clean:
	rm -rf bin dist
