# oxyctl: `make demo` shows it working against a local sandbox; `make test` is
# the whole test suite (what CI runs through .ci/run).
GO        ?= go
BIN       ?= bin/oxyctl
PKG       := github.com/oxyhq/oxyctl
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null || echo none)
DATE      ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS   := -s -w -X $(PKG)/internal/build.Version=$(VERSION) -X $(PKG)/internal/build.Commit=$(COMMIT) -X $(PKG)/internal/build.Date=$(DATE)
FUZZTIME  ?= 10s

.PHONY: build test setup lint unit fuzz demo docs bench clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/oxyctl

## test: install what is missing, then lint, the race-checked suite against real servers, short fuzz runs
test: setup lint unit fuzz

setup:
	./.ci/setup

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

unit:
	CI=$${CI:-} OXYCTL_REQUIRE_SERVERS=1 $(GO) test -race -count=1 -timeout 20m ./...

## fuzz: every Fuzz target of the module for FUZZTIME each
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "fuzz: $$pkg $$f ($(FUZZTIME))"; \
			out=$$($(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg 2>&1) || { echo "$$out" | tail -40; exit 1; }; \
		done; \
	done

demo:
	$(GO) run ./cmd/oxyctl-sandbox

docs:
	$(GO) run ./cmd/oxyctl-docs

bench:
	./.ci/bench

clean:
	rm -rf bin dist
