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

.PHONY: all build test unit lint bench bench-proxy bench-bridge clean deps help

all: build

help: ## list targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

build: ## static binaries for every command into bin/
	@mkdir -p $(BIN)
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...

# Third-party Kafka clients the proxy tests drive: kcat (librdkafka) and kafka-python.
deps: ## install the Debian packages the tests use (kcat, python3-kafka, docker-compose)
	@if ! command -v kcat >/dev/null || ! $(PYTHON) -c 'import kafka' 2>/dev/null || ! command -v docker-compose >/dev/null; then \
		echo "installing kcat, python3-kafka and docker-compose"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq kcat python3-kafka docker-compose >/dev/null; \
	fi

test: deps unit e2e ## all tests, with -race: unit and integration, then the docker e2e suite

unit: ## go tests of every package, with -race
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 20m $(TEST_FLAGS) ./...

lint: $(GOLANGCI) ## gofmt, go vet, golangci-lint
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GOLANGCI) run ./...

$(GOLANGCI):
	$(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_V)

bench: bench-proxy bench-bridge ## every benchmark table

BENCH_FLAGS ?=

bench-proxy: build ## proxy cost table: direct vs splice forwarder vs airlock-proxy (BENCH_FLAGS="--rounds 3 --mb 256")
	$(GO) run ./cmd/airlock-proxy-bench $(BENCH_FLAGS)

bench-bridge: ## bridge table: exactly-once vs at-least-once throughput and end-to-end latency
	$(GO) run ./bridge/cmd/airlock-bridge-bench $(BENCH_FLAGS)

clean: ## remove build output
	rm -rf $(BIN) build

# --- docker testbed: images and e2e specs --------------------------------------------
# Images are FROM scratch around static binaries built here, so nothing is pulled.
# A command in IMAGE_CMDS gets an image only once cmd/<name> has Go files.
IMAGE_REPO  ?= airlock.local
IMAGE_TAG   ?= dev
IMAGE_CMDS  ?= airlock-testbroker airlock-probe airlock-proxy airlock-bridge airlock-producer airlock-consumer
IMAGE_BUILT := $(foreach c,$(IMAGE_CMDS),$(if $(wildcard cmd/$(c)/*.go),$(c)))
IMAGE_STAGE := build/images
HOST_CA     ?= /etc/ssl/certs/ca-certificates.crt
TOXIPROXY_V := 2.12.0
E2E_FLAGS   ?=

DEPLOY_DIR  := deploy

.PHONY: images e2e demo compose-check deploy-secrets

images: ## images airlock.local/<name>:dev: proxy and bridge (images/<name>.Dockerfile, production), testbed tools (images/Dockerfile); pulls nothing
	@mkdir -p $(BIN)
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ $(addprefix ./cmd/,$(IMAGE_BUILT))
	$(GO) build -trimpath -ldflags '-s -w -X github.com/Shopify/toxiproxy/v2.Version=$(TOXIPROXY_V)' -o $(BIN)/toxiproxy-server github.com/Shopify/toxiproxy/v2/cmd/server
	@set -e; for b in $(IMAGE_BUILT); do \
		name=$${b#airlock-}; rm -rf $(IMAGE_STAGE)/$$name; mkdir -p $(IMAGE_STAGE)/$$name/data; \
		cp $(BIN)/$$b $(HOST_CA) $(IMAGE_STAGE)/$$name/; \
		echo "docker build $(IMAGE_REPO)/$$name:$(IMAGE_TAG)"; \
		df=images/Dockerfile; [ -f images/$$name.Dockerfile ] && df=images/$$name.Dockerfile; \
		out=$$(DOCKER_BUILDKIT=0 docker build -q -f $$df --build-arg BINARY=$$b \
			-t $(IMAGE_REPO)/$$name:$(IMAGE_TAG) $(IMAGE_STAGE)/$$name 2>&1) || { echo "$$out"; exit 1; }; \
	done
	@rm -rf $(IMAGE_STAGE)/toxiproxy; mkdir -p $(IMAGE_STAGE)/toxiproxy; cp $(BIN)/toxiproxy-server $(IMAGE_STAGE)/toxiproxy/
	@echo "docker build $(IMAGE_REPO)/toxiproxy:$(IMAGE_TAG)"
	@out=$$(DOCKER_BUILDKIT=0 docker build -q -f images/toxiproxy.Dockerfile \
		-t $(IMAGE_REPO)/toxiproxy:$(IMAGE_TAG) $(IMAGE_STAGE)/toxiproxy 2>&1) || { echo "$$out"; exit 1; }
	@docker image prune -f --filter label=airlock.image >/dev/null # the images these tags replaced

e2e: export TESTCONTAINERS_RYUK_DISABLED := true
e2e: export AIRLOCK_E2E := 1
e2e: images compose-check ## docker testbed specs (Ginkgo + testcontainers), JUnit report in build/reports/
	@mkdir -p build/reports
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 40m -v ./e2e/... -ginkgo.v \
		-ginkgo.junit-report=$(CURDIR)/build/reports/e2e-junit.xml $(E2E_FLAGS)
	@left="$$(docker ps -aq --filter label=airlock.e2e)$$(docker network ls -q --filter label=airlock.e2e)$$(docker volume ls -q --filter label=airlock.e2e)"; \
	if [ -n "$$left" ]; then echo "e2e left docker resources behind:"; docker ps -a --filter label=airlock.e2e; \
		docker network ls --filter label=airlock.e2e; docker volume ls --filter label=airlock.e2e; exit 1; fi

demo: export TESTCONTAINERS_RYUK_DISABLED := true
demo: images ## the topology in docker, ~1 min of events through proxies and bridge under faults, verified; KEEP=1 leaves it up
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/airlock-demo
	AIRLOCK_DEMO_KEEP=$(if $(filter 1 true yes,$(KEEP)),true,false) $(BIN)/airlock-demo

compose-check: ## validate deploy/docker-compose.yml (docker-compose config)
	@command -v docker-compose >/dev/null || { echo "compose-check: docker-compose not found; install it (Debian: apt-get install docker-compose) to validate $(DEPLOY_DIR)/docker-compose.yml"; exit 1; }
	docker-compose -f $(DEPLOY_DIR)/docker-compose.yml config -q

deploy-secrets: ## certificates, SASL users file and broker data dirs for deploy/docker-compose.yml (valid files are kept)
	@mkdir -p $(BIN) $(DEPLOY_DIR)/data/source-kafka $(DEPLOY_DIR)/data/target-kafka
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/airlock-certgen ./cmd/airlock-proxy
	$(BIN)/airlock-certgen --out $(DEPLOY_DIR)/secrets \
		--server source-kafka,target-kafka,source-proxy,target-proxy \
		--server-san source-proxy=source-toxi --server-san target-proxy=target-toxi \
		--client proxy,bridge,producer,consumer
	@test -s $(DEPLOY_DIR)/secrets/bridge.password || { umask 077; head -c 18 /dev/urandom | base64 > $(DEPLOY_DIR)/secrets/bridge.password; }
	$(BIN)/airlock-proxy users add --file $(DEPLOY_DIR)/secrets/users.txt --user bridge --password-file $(DEPLOY_DIR)/secrets/bridge.password

# --- chaos scenarios (package chaos, cmd/airlock-chaos) ---------------------------------
SCENARIO    ?= all
CHAOS_FLAGS ?=

.PHONY: chaos

chaos: export TESTCONTAINERS_RYUK_DISABLED := true
chaos: images ## chaos scenarios, long form: SCENARIO=<name> (default all), CHAOS_FLAGS="--seed 7 --form short"; reports in build/chaos/
	$(GO) run ./cmd/airlock-chaos run $(SCENARIO) --report build/chaos/$(SCENARIO) $(CHAOS_FLAGS)
