# swift-dedup: the two commands a new user runs on a fresh Debian machine.
#   make demo   installs what is missing, builds, and runs the main job on sample data
#   make test   installs what is missing, builds, and runs every test
SWIFT ?= swift

.PHONY: deps build test demo bench bench-pipeline clean

deps:
	@scripts/install-deps.sh

build: deps
	$(SWIFT) build -c release

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

demo: deps
	$(SWIFT) build -c release
	scripts/demo.sh

bench: deps
	cd Benchmarks && $(SWIFT) package --allow-writing-to-directory .benchmarkBaselines benchmark

bench-pipeline: deps
	Benchmarks/pipeline.sh

clean:
	rm -rf .build Benchmarks/.build
