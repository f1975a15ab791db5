# tenantgate — the README's two commands are `make run` and `make test`.
GO      ?= go
DATA    ?= ./data
LISTEN  ?= :8080
METRICS ?= 127.0.0.1:9090
ARTIFACTS ?= $(CURDIR)/.artifacts
BIN     ?= $(CURDIR)/bin

export GOFLAGS ?= -mod=mod

# The version in tenantgate_build_info and `tenantgate version`, from git at
# build time (client_golang's collectors/version reads these variables).
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null)
BRANCH   ?= $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null)
VERPKG   := github.com/prometheus/common/version
LDFLAGS  := -X $(VERPKG).Version=$(VERSION) -X $(VERPKG).Revision=$(REVISION) -X $(VERPKG).Branch=$(BRANCH)

.PHONY: run build build-proxy test test-deps test-go lint verify-systemd bench loadtest clean

## run: build the proxy (only) into ./bin and start it on ./data with the demo tenant (prints URLs and a token)
run: build-proxy
	$(BIN)/tenantgate serve --data-dir $(DATA) --listen $(LISTEN) --metrics-listen $(METRICS)

## build: static binaries in ./bin (bin/tenantgate, bin/loadtest)
build: build-proxy
	CGO_ENABLED=0 $(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/loadtest ./cmd/loadtest

## build-proxy: bin/tenantgate only, version-stamped from git
build-proxy:
	CGO_ENABLED=0 $(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/tenantgate ./cmd/tenantgate

## test: install what the tests need, vet, then run every test
test: test-deps lint verify-systemd test-go

## verify-systemd: deploy/systemd/tenantgate.service passes systemd-analyze
#   (skipped where systemd is absent; any warning fails, since verify
#   itself exits 0 on most of them)
verify-systemd:
	@if ! command -v systemd-analyze >/dev/null 2>&1; then echo "systemd-analyze not found: unit not verified"; exit 0; fi; \
	dir=$$(mktemp -d) && trap 'rm -rf "$$dir"' EXIT && \
	CGO_ENABLED=0 $(GO) build -o $$dir/tenantgate ./cmd/tenantgate && \
	sed "s#/usr/local/bin/tenantgate#$$dir/tenantgate#" deploy/systemd/tenantgate.service > $$dir/tenantgate.service && \
	out=$$(systemd-analyze verify --man=no $$dir/tenantgate.service 2>&1); \
	if [ -n "$$out" ]; then echo "$$out"; exit 1; fi; echo "systemd-analyze verify: tenantgate.service OK"

test-go:
	mkdir -p $(ARTIFACTS)
	TENANTGATE_ARTIFACTS=$(ARTIFACTS) $(GO) test -race -count=1 -timeout 30m ./...
	# timed bounds that the race detector would distort, checked once without it
	$(GO) test -count=1 -run 'TestNoisyNeighbour' ./proxy/
	$(GO) test -count=1 -run 'TestEdgeLoginFloodFairness' ./cmd/tenantgate/

## test-deps: idempotent installs for tests that use real external clients
#   Debian packages: chromium (browser tests), prometheus (promtool + server)
#   npm packages:    @libsql/client for the JavaScript client tests, turso (tursodb --sync-server)
#   Go tools:        Pebble (Let's Encrypt's test CA) and its DNS, for the HTTPS tests
DEB_PKGS := chromium prometheus
TOOLS_BIN := $(CURDIR)/.tools/bin
PEBBLE_VERSION := v2.10.3
NPM_DIRS := $(wildcard proxy/hrana/testdata/js proxy/hrana/testdata/turso)
test-deps:
	$(GO) mod download
	@test -x $(TOOLS_BIN)/pebble -a -x $(TOOLS_BIN)/pebble-challtestsrv || \
	  GOBIN=$(TOOLS_BIN) GOFLAGS= $(GO) install github.com/letsencrypt/pebble/v2/cmd/pebble@$(PEBBLE_VERSION) \
	    github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv@$(PEBBLE_VERSION)
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v promtool >/dev/null 2>&1 || missing="$$missing prometheus"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
	@for d in $(NPM_DIRS); do echo "npm ci in $$d"; (cd $$d && npm ci --no-audit --no-fund --loglevel=error); done

lint:
	$(GO) vet ./...

## bench: the go test benchmarks recorded in BENCHMARKS.md
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

## loadtest: the seed's criterion for real (100 tenants, 30 s, p95 < 100 ms)
#   (built, not `go run`, so the k6-style exit status 99 on a failed threshold survives)
loadtest:
	mkdir -p $(ARTIFACTS)
	CGO_ENABLED=0 $(GO) build -ldflags '$(LDFLAGS)' -o bin/loadtest ./cmd/loadtest
	./bin/loadtest --spawn --tenants 100 --duration 30s --rate 500 \
		--threshold 'http_req_duration:p(95)<100' --threshold 'http_req_failed:rate<0.01' \
		--summary-export $(ARTIFACTS)/loadtest-summary.json --report $(ARTIFACTS)/loadtest-report.html

clean:
	rm -rf bin $(ARTIFACTS)
