# oxyctl: `make demo` shows it working against a local sandbox; `make test` is
# the whole test suite (what CI runs through .ci/run, in a fresh clone with
# cold caches: .ci/fresh-clone); `make install` puts oxyctl in $(go env GOPATH)/bin.
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

.PHONY: release-check-run build install test setup lint deadcode unit e2e fuzz release-check demo docs bench clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/oxyctl

## install: oxyctl into $(go env GOBIN), else $(go env GOPATH)/bin, stamped like `make build`
install:
	CGO_ENABLED=0 $(GO) install -trimpath -ldflags '$(LDFLAGS)' ./cmd/oxyctl
	@dir=$$($(GO) env GOBIN); dir=$${dir:-$$($(GO) env GOPATH)/bin}; \
	echo "install: $$("$$dir/oxyctl" version)"; echo "install: $$dir/oxyctl"; \
	case ":$$PATH:" in *":$$dir:"*) ;; *) echo "install: $$dir is not on your PATH: export PATH=\"$$dir:\$$PATH\"";; esac

## test: lint first (it needs only Go), then install what is missing, the race-checked suite
## against real servers, short fuzz runs and the release check; each phase prints its elapsed
## time, and so does the whole.
TEST_PHASES := lint setup unit e2e fuzz release-check
test:
	@start=$$SECONDS; for phase in $(TEST_PHASES); do \
		echo "== test: $$phase"; t=$$SECONDS; \
		$(MAKE) --no-print-directory $$phase || { echo "== test: $$phase FAILED after $$((SECONDS - t)) s ($$((SECONDS - start)) s in all)"; exit 1; }; \
		echo "== test: $$phase done in $$((SECONDS - t)) s"; \
	done; echo "== test: every phase passed in $$((SECONDS - start)) s"

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

## fuzz: every Fuzz target of the module for FUZZTIME each (found in the source: listing them
## with `go test -list` would compile every package's tests once more). A failing input is
## minimized for at most 10 runs, so that it is written before FUZZTIME ends even for a target
## whose runs take a second; a bare "context deadline exceeded" with no input written is Go's
## coordinator racing its own deadline (fixed in Go 1.27) and is run once more.
fuzz:
	@set -e; n=0; for file in $$(git grep -l '^func Fuzz[A-Z0-9_]' -- '*_test.go'); do \
		pkg=./$$(dirname $$file); \
		for f in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$file); do \
			echo "fuzz: $$pkg $$f ($(FUZZTIME))"; n=$$((n + 1)); \
			out=$$($(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 10x $$pkg 2>&1) || { \
				if echo "$$out" | grep -q 'context deadline exceeded' && ! echo "$$out" | grep -q 'Failing input written'; then \
					echo "fuzz: $$f: bare 'context deadline exceeded' with no failing input (Go's fuzz coordinator, go.dev/issue/75804): once more"; \
					out=$$($(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 10x $$pkg 2>&1) || { echo "$$out" | tail -40; exit 1; }; \
				else echo "$$out" | tail -40; exit 1; fi; }; \
		done; \
	done; [ $$n -gt 0 ] || { echo "fuzz: no Fuzz target found"; exit 1; }

## release-check: goreleaser check, then a snapshot build of one target that must report its
## version; skipped with a notice when goreleaser is not on PATH (the test command does not
## compile it: that alone took ten minutes on a fresh machine)
GORELEASER ?= $(shell command -v goreleaser 2>/dev/null)
release-check:
	@if [ -z "$(GORELEASER)" ]; then echo "release-check: skipped: goreleaser is not on PATH (go install github.com/goreleaser/goreleaser/v2@v2.15.1 to run it)"; else \
		$(MAKE) --no-print-directory release-check-run; fi

release-check-run:
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
