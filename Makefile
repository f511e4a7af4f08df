# Build, run, test and lint the NSQ daemons. `make test` is what CI runs (via .ci/run).

CARGO    ?= cargo
PYTHON   ?= python3
TARGET_DIR := $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)
NSQD_DBG := $(TARGET_DIR)/debug/nsqd
LOOKUPD_DBG := $(TARGET_DIR)/debug/nsqlookupd
NSQADMIN_DBG := $(TARGET_DIR)/debug/nsqadmin
REF_BIN  := $(CURDIR)/tests/reference/bin
DATA     ?= $(CURDIR)/data
TARGET   ?= x86_64-unknown-linux-gnu
# Where `dist` puts its binaries: cargo's target dir (honours CARGO_TARGET_DIR) per triple.
DIST_DIR := $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)/$(TARGET)/release
DIST_BINS := nsqd nsqlookupd nsqadmin to_nsq nsq_stat nsq_tail nsq_to_http nsq_to_nsq

.PHONY: all build release run test lint unit compat compat-go compat-python compat-node browser reference deps dist dist-check clean

all: build

build:
	$(CARGO) build --workspace --bins

release:
	$(CARGO) build --release --workspace --bins

## Start nsqlookupd (4160 TCP, 4161 HTTP), an nsqd registered with it (4150 TCP,
## 4151 HTTP, data in ./data) and nsqadmin (http://127.0.0.1:4171/), all on their default
## ports; Ctrl-C stops all three.
run: release
	mkdir -p $(DATA)
	$(TARGET_DIR)/release/nsqlookupd & lookupd=$$!; \
	$(TARGET_DIR)/release/nsqadmin --lookupd-http-address=127.0.0.1:4161 & admin=$$!; \
	trap 'kill $$lookupd $$admin 2>/dev/null' EXIT INT TERM; \
	$(TARGET_DIR)/release/nsqd --data-path=$(DATA) \
	  --lookupd-tcp-address=127.0.0.1:4160 --broadcast-address=127.0.0.1

## Everything CI checks: formatting and lints, unit + integration tests, real-client compat.
test: lint build reference unit compat browser bench-smoke dist-check

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

unit: build reference
	GO_NSQD_BIN=$(REF_BIN)/nsqd NSQD_BIN=$(NSQD_DBG) NSQLOOKUPD_BIN=$(LOOKUPD_DBG) \
	  NSQADMIN_BIN=$(NSQADMIN_DBG) GO_NSQADMIN_BIN=$(REF_BIN)/nsqadmin $(CARGO) test --workspace

compat: compat-go compat-python compat-node

compat-go: build
	cd tests/compat/go && NSQD_BIN=$(NSQD_DBG) NSQLOOKUPD_BIN=$(LOOKUPD_DBG) go test -count=1 -v ./...

compat-python: build
	NSQD_BIN=$(NSQD_DBG) NSQLOOKUPD_BIN=$(LOOKUPD_DBG) $(PYTHON) -m pytest -v tests/compat/python

compat-node: build
	cd tests/compat/node && NSQD_BIN=$(NSQD_DBG) node --test

## nsqadmin's pages in headless Debian chromium (tests/browser/README.md); screenshots in
## tests/browser/artifacts/.
browser: build
	cd tests/browser && NSQADMIN_BIN=$(NSQADMIN_DBG) NSQD_BIN=$(NSQD_DBG) \
	  NSQLOOKUPD_BIN=$(LOOKUPD_DBG) node --test

## The reference Go daemons and nsqadmin (v1.3.0), for interchange tests, API comparisons
## and side-by-side benchmarks.
reference: $(REF_BIN)/nsqd $(REF_BIN)/nsqadmin $(REF_BIN)/nsq_tail

$(REF_BIN)/nsqd: tests/reference/go.mod tests/reference/go.sum
	cd tests/reference && go build -o bin/nsqd github.com/nsqio/nsq/apps/nsqd
	cd tests/reference && go build -o bin/nsqlookupd github.com/nsqio/nsq/apps/nsqlookupd

$(REF_BIN)/nsqadmin: tests/reference/go.mod tests/reference/go.sum
	cd tests/reference && go build -o bin/nsqadmin github.com/nsqio/nsq/apps/nsqadmin

## The Go tools, side by side with ours in tests/tests/tools_*.rs.
$(REF_BIN)/nsq_tail: tests/reference/go.mod tests/reference/go.sum
	cd tests/reference && for t in nsq_tail to_nsq nsq_stat nsq_to_file nsq_to_http nsq_to_nsq; do \
	  go build -o bin/$$t github.com/nsqio/nsq/apps/$$t || exit 1; done

## Client libraries the compat tests use (pinned).
deps:
	$(PYTHON) -m pip install -q -r tests/compat/python/requirements.txt
	cd tests/compat/go && go mod download
	cd tests/compat/node && npm ci --no-audit --no-fund
	cd tests/browser && npm ci --no-audit --no-fund
	cd tests/reference && go mod download

## Statically linked release binaries in $(DIST_DIR) (glibc static-pie); fails unless ldd
## calls every one static. A cold build takes about 3 min on a shared 2-core machine.
dist:
	RUSTFLAGS="$(RUSTFLAGS) -C target-feature=+crt-static" $(CARGO) build --release --workspace --bins --target $(TARGET)
	@for b in $(DIST_BINS); do \
	  f=$(DIST_DIR)/$$b; out=$$(ldd "$$f" 2>&1); \
	  if echo "$$out" | grep -Eq "not a dynamic executable|statically linked"; then echo "$$f: static"; \
	  else echo "$$f is not statically linked; ldd says:"; echo "$$out"; exit 1; fi; \
	done

## dist, then run each binary: --version, and nsqd on 127.0.0.1:0 answering /ping.
dist-check: dist
	for b in $(DIST_BINS); do tests/dist-check.sh $(DIST_DIR)/$$b || exit 1; done

## Side-by-side benchmark (bench/): our release nsqd against AGAINST (default: the Go
## reference, built when absent), ROUNDS rounds of DURATION per publish phase, alternating;
## writes bench/RESULTS.md and bench/results.svg. NOTE="..." heads the report;
## BENCH_ARGS passes more `bench compare` flags (e.g. --config mem1m,latency).
AGAINST  ?= $(REF_BIN)/nsqd
ROUNDS   ?= 3
DURATION ?= 10s
NOTE     ?=
BENCH_ARGS ?=

.PHONY: bench bench-smoke

bench: $(if $(filter $(REF_BIN)/nsqd,$(AGAINST)),$(REF_BIN)/nsqd)
	$(CARGO) build --release -p nsqd -p bench
	$(TARGET_DIR)/release/bench compare --ours $(TARGET_DIR)/release/nsqd --theirs $(AGAINST) \
	  --rounds $(ROUNDS) --duration $(DURATION) --out bench/RESULTS.md \
	  --command "make bench AGAINST=$(patsubst $(CURDIR)/%,%,$(AGAINST)) ROUNDS=$(ROUNDS) DURATION=$(DURATION)$(if $(BENCH_ARGS), BENCH_ARGS='$(BENCH_ARGS)')" \
	  $(if $(NOTE),--note "$(NOTE)") $(BENCH_ARGS)

## A few seconds: every bench configuration, tiny, against the debug nsqd (and the Go
## reference when built). Checks that every published message is delivered; no timings.
bench-smoke: build
	$(TARGET_DIR)/debug/bench smoke --nsqd $(NSQD_DBG) $(if $(wildcard $(REF_BIN)/nsqd),--nsqd $(REF_BIN)/nsqd)

clean:
	$(CARGO) clean
	rm -rf $(REF_BIN)
