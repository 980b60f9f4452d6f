# Gavel. `make run` starts a development server with zero setup;
# `make test` runs every test with the race detector.

GO       ?= go
BIN      := bin/gavel
DATA     ?= ./gavel-data
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X github.com/gavelhq/gavel/server.Version=$(VERSION)
# Per-target budget of `make fuzz`.
FUZZTIME ?= 10s
# Benchmark filter and repetitions for `make bench`.
BENCH    ?= .
COUNT    ?= 1

.PHONY: all build run test interop fuzz bench bench-smoke lint clean

all: build

## build: compile the server into bin/gavel
build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/gavel

## run: build, then serve in dev mode (loopback, demo accounts, data in ./gavel-data)
run: build
	./$(BIN) serve --dev --data $(DATA)

## test: all tests with the race detector
test:
	$(GO) test -race ./...

## interop: tests with third-party clients (interop/run.sh)
interop: build
	bash interop/run.sh

## fuzz: each fuzz target for FUZZTIME (go test runs one target per invocation)
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
	  for target in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do \
	    echo "== $$pkg $$target"; \
	    $(GO) test -run='^$$' -fuzz="^$$target$$" -fuzztime=$(FUZZTIME) $$pkg; \
	  done; \
	done

## bench: benchmarks (no tests), with allocations
bench:
	$(GO) test -run='^$$' -bench='$(BENCH)' -benchmem -count=$(COUNT) ./...

## bench-smoke: every Go benchmark once, as CI runs them (checks they work; no timing is judged)
bench-smoke:
	$(GO) test -run='^$$' -bench=. -benchtime=1x -benchmem ./...

## lint: gofmt and go vet
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './node_modules/*')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf bin

include bench/Makefile.inc
