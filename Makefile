# bespoke: `make run` serves the demo, `make test` runs every test.
GO        ?= go
BIN       := bin/bespoke
LISTEN    ?= :8080
PREVIEW   ?= 127.0.0.1:8081
STATICCHECK_VERSION := v0.8.2

.PHONY: all build run test test-short lint fmt fuzz demo-wasm bench bench-quick soak clean

all: build

build:
	$(GO) build -o $(BIN) ./host/cmd/bespoke

# Builds everything, compiles the demo rules (to show the artifact), and
# serves the bundled demo site through the proxy on $(LISTEN), with the
# editors' preview on $(PREVIEW). Edit testdata/demo/rules.yaml while it
# runs: the proxy and the preview reload it.
run: build demo-wasm
	$(BIN) serve --demo --rules testdata/demo/rules.yaml --listen $(LISTEN) --debug-headers --preview $(PREVIEW) --dev-preview

demo-wasm: build
	$(BIN) compile testdata/demo/rules.yaml -o bin/demo.wasm

# -tags rewritework turns on the HTML rewriter's work counter, which
# its linearity test reads (it costs nothing in other builds).
# The Caddy module is a Go module of its own (caddy/): its test builds a
# real Caddy, about 5 minutes the first time on 2 cores, seconds once the
# build cache holds it.
test:
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 30m -tags rewritework ./...
	cd caddy && $(GO) vet ./... && $(GO) test -count=1 ./...

test-short:
	$(GO) test -short -count=1 ./...

lint:
	@test -z "$$(gofmt -l . | tee /dev/stderr)" || (echo "gofmt: the files above need formatting" && exit 1)
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...
	cd caddy && $(GO) vet ./... && $(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

fmt:
	gofmt -w .

# The benchmark suite against the origin alone, a plain Go reverse proxy,
# nginx (installed from Debian when missing) and Caddy, with the micro-benchmarks:
# 20 to 25 minutes; writes bench/results/. bench-quick checks a change in
# about 3 minutes (one round, the headline targets).
bench:
	bench/peers/install
	$(GO) run ./bench

bench-quick:
	bench/peers/install
	$(GO) run ./bench -quick -out bin/bench-quick

# The long form of the load, reload-under-load and fault tests (about
# 2 minutes, loopback only); `make test` runs them in seconds.
soak:
	BESPOKE_SOAK=1 $(GO) test -count=1 -timeout 15m -run 'TestLoad|TestReloadUnderLoad|TestBadReloadKeepsServing|TestOriginFaults|TestSlowloris|TestMisbehavingPlugins' -v ./host/internal/server/

# Runs every fuzz target for FUZZTIME each.
FUZZTIME ?= 30s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; \
	    $(GO) test -run XXX -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

clean:
	rm -rf bin
