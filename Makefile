# swift-dedup: the two commands a new user runs on a fresh Debian machine.
#   make demo   installs what is missing, builds, and runs the main job on sample data
#   make test   installs what is missing, builds, and runs every test
#   make bench  runs the benchmark suites in Benchmarks/ (1M operations, ~5 min here) and prints a report;
#               make bench-10m adds the 10M-operation suite (see docs/benchmarks.md)
#   make bench-peers  dedup against DuckDB, polars, Python + orjson and a C floor program
#   make bench-kafka  dedup kafka against a C librdkafka consume-transform-produce loop, on noida-db
#   make bench-scale  dedup run with 1M, 4M and 10M keys live: records/s, max RSS, store size
SWIFT ?= swift
# Name under which benchmark results are saved in Benchmarks/.benchmarkBaselines (git-ignored).
BENCH_BASELINE ?= current
BENCH_RUN = cd Benchmarks && $(SWIFT) package --allow-writing-to-directory .benchmarkBaselines benchmark \
	baseline update $(BENCH_BASELINE) --no-progress

.PHONY: deps build test demo install bench bench-10m bench-report bench-pipeline bench-peers bench-kafka bench-scale clean

deps:
	@scripts/install-deps.sh

build: deps
	$(SWIFT) build -c release

test: deps
	scripts/check-layering.sh
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

demo: deps
	$(SWIFT) build -c release
	scripts/demo.sh

bench: deps
	$(BENCH_RUN) --skip-target Scale10M
	$(MAKE) bench-report

bench-10m: deps
	$(BENCH_RUN) --target Scale10M
	$(MAKE) bench-report

bench-report:
	cd Benchmarks && $(SWIFT) run -c release BenchmarkReport $(BENCH_BASELINE)

bench-pipeline: deps
	Benchmarks/pipeline.sh

# dedup against DuckDB, polars, Python + orjson and a C floor (issue 12); ROUNDS=n (default 3).
bench-peers: deps
	Benchmarks/peers.sh $(ROUNDS)

# dedup kafka against C librdkafka loops (3 shapes) on a real broker (issue 13); ROUNDS=n (default 3), RECORDS=n.
bench-kafka: deps
	Benchmarks/kafka.sh $(or $(ROUNDS),3) $(or $(RECORDS),200000)

# dedup run with 1M, 4M and 10M keys live in one window (issue 12's scale target); ROUNDS=n (default 3).
bench-scale: deps
	Benchmarks/scale.sh $(or $(ROUNDS),3)

clean:
	rm -rf .build Benchmarks/.build

# Installs the release binary as $(PREFIX)/bin/dedup (default /usr/local).
PREFIX ?= /usr/local
install: deps
	$(SWIFT) build -c release --product dedup
	install -D -m 0755 .build/release/dedup $(DESTDIR)$(PREFIX)/bin/dedup
