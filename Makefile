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
DIST_BINS := nsqd nsqlookupd nsqadmin to_nsq nsq_stat nsq_tail nsq_to_file nsq_to_http nsq_to_nsq

.PHONY: all build release run test lint unit compat compat-go compat-python compat-node browser reference deps dist dist-check clean soak

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
test: lint build reference unit compat browser bench-smoke dist-check fuzz-ci

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

unit: build reference
	GO_NSQD_BIN=$(REF_BIN)/nsqd NSQD_BIN=$(NSQD_DBG) NSQLOOKUPD_BIN=$(LOOKUPD_DBG) \
	  NSQADMIN_BIN=$(NSQADMIN_DBG) GO_NSQADMIN_BIN=$(REF_BIN)/nsqadmin $(CARGO) test --workspace

## The long reliability campaigns (RELIABILITY.md): SOAK_KILLS kill -9 rounds under mixed
## load (a quarter of that for each variant), the corruption scenarios and the full disk
## (needs root for the tmpfs), ours and Go's side by side; prints each campaign's report
## (SOAK lines). `make test` runs the same tests with 10 kills. Replay: SOAK_SEED=<seed>.
SOAK_KILLS ?= 100
SOAK_SEED  ?=
soak: build reference
	NSQ_SOAK_KILLS=$(SOAK_KILLS) $(if $(SOAK_SEED),NSQ_SOAK_SEED=$(SOAK_SEED)) \
	  GO_NSQD_BIN=$(REF_BIN)/nsqd NSQD_BIN=$(NSQD_DBG) \
	  $(CARGO) test --no-fail-fast -p nsq-tests --test soak --test corruption --test disk_full -- --nocapture

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

## The reference Go daemons, nsqadmin and tools (v1.3.0), for interchange tests, API comparisons
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

## Load with its timing check on: throughput beside 5,000 idle connections must stay at
## least half of what it is without them (`make test` only prints the figures).
.PHONY: load
load: build reference
	NSQ_LOAD_STRICT=1 GO_NSQD_BIN=$(REF_BIN)/nsqd NSQD_BIN=$(NSQD_DBG) \
	  $(CARGO) test -p nsq-tests --test load_crowd -- --nocapture --test-threads=1

## Network faults, long version: the partition/degrade/heal cycle of tests/tests/netfaults.rs
## repeated NETFAULT_ROUNDS times (root only; `make test` runs one cycle).
NETFAULT_ROUNDS ?= 10
.PHONY: netfaults
netfaults: build
	NSQ_NETFAULTS_ROUNDS=$(NETFAULT_ROUNDS) NSQD_BIN=$(NSQD_DBG) NSQLOOKUPD_BIN=$(LOOKUPD_DBG) \
	  $(CARGO) test -p nsq-tests --test netfaults -- --nocapture
## Fuzzing (fuzz/: cargo-fuzz targets on the nightly toolchain; RELIABILITY.md says how to
## replay a crash). `fuzz` runs every target for FUZZ_SECONDS (FUZZ_TARGETS to pick some);
## `fuzz-ci` (part of `make test`) each for FUZZ_CI_SECONDS. New inputs go to
## fuzz/corpus-work/<target>/ (not committed); fuzz/corpus/<target>/ holds the seeds.
## A crash stops the run and leaves its input in fuzz/artifacts/<target>/.
FUZZ_TARGETS ?= v2_commands lookup_v1 identify_json auth_reply config_file http_parsers \
  diskqueue nsqd_dat packed compress
FUZZ_SECONDS ?= 300
FUZZ_CI_SECONDS ?= 10
# Optimized, with debug assertions (overflow checks) and AddressSanitizer; fuzz-ci drops
# the sanitizer (safe Rust gains little from it, and it doubles the build).
FUZZ_FLAGS ?= -O -a
FUZZ_CI_FLAGS ?= -O -a -s none

.PHONY: fuzz fuzz-ci fuzz-build fuzz-seeds

## Re-record fuzz/corpus/ from real traffic (fuzz/seeds.py; needs the Go reference tools).
fuzz-seeds: build
	cd tests/reference && go build -o bin/to_nsq github.com/nsqio/nsq/apps/to_nsq
	cd tests/reference && go build -o bin/nsq_tail github.com/nsqio/nsq/apps/nsq_tail
	$(PYTHON) fuzz/seeds.py $(NSQD_DBG) $(LOOKUPD_DBG) $(REF_BIN)/to_nsq $(REF_BIN)/nsq_tail

fuzz-build:
	cd fuzz && $(CARGO) +nightly fuzz build $(FUZZ_FLAGS)

fuzz: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p fuzz/corpus-work/$$t fuzz/corpus/$$t; \
	  echo "== fuzz $$t for $(FUZZ_SECONDS) s"; \
	  (cd fuzz && $(CARGO) +nightly fuzz run $(FUZZ_FLAGS) $$t corpus-work/$$t corpus/$$t -- \
	    -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	    > corpus-work/$$t.log 2>&1); rc=$$?; \
	  grep -E "^#[0-9]+ *DONE|stat::number_of_executed_units|stat::peak_rss" fuzz/corpus-work/$$t.log; \
	  if [ $$rc -ne 0 ]; then tail -n 80 fuzz/corpus-work/$$t.log; exit 1; fi; \
	done

fuzz-ci:
	$(MAKE) fuzz FUZZ_SECONDS=$(FUZZ_CI_SECONDS) FUZZ_FLAGS="$(FUZZ_CI_FLAGS)"
