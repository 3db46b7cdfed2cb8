# Airlock build. Every target installs or builds what it needs, so a fresh clone on a
# fresh machine runs `make demo` and `make test` with nothing set up by hand.

SHELL       := /bin/bash
GO          ?= go
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS     := -s -w -X github.com/airlock-kafka/airlock/internal/version.Version=$(VERSION)
BIN         := bin
GOBIN       := $(shell $(GO) env GOPATH)/bin
CMDS        := $(notdir $(wildcard cmd/*))
GOLANGCI    := $(GOBIN)/golangci-lint
GOLANGCI_V  ?= v2.6.2
PYTHON      ?= /usr/bin/python3
TEST_FLAGS  ?=

export CGO_ENABLED ?= 0

.PHONY: all build test unit lint bench bench-proxy clean deps help

all: build

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

build: ## static binaries for every command into bin/
	@mkdir -p $(BIN)
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...

# Third-party Kafka clients the proxy tests drive: kcat (librdkafka) and kafka-python.
deps: ## install the Debian packages the tests use (kcat, python3-kafka)
	@if ! command -v kcat >/dev/null || ! $(PYTHON) -c 'import kafka' 2>/dev/null; then \
		echo "installing kcat and python3-kafka"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq kcat python3-kafka >/dev/null; \
	fi

test: deps unit ## all tests, with -race

unit: ## go tests of every package, with -race
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 20m $(TEST_FLAGS) ./...

lint: $(GOLANGCI) ## gofmt, go vet, golangci-lint
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GOLANGCI) run ./...

$(GOLANGCI):
	$(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_V)

bench: bench-proxy ## every benchmark table

bench-proxy: build ## proxy cost table: direct vs splice forwarder vs airlock-proxy
	$(GO) run ./cmd/airlock-proxy-bench

clean: ## remove build output
	rm -rf $(BIN) build
