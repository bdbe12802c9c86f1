# The two commands a newcomer needs: `make run` and `make test` (see README.md).
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
WERROR ?= OFF
CMAKE_FLAGS ?=
JOBS ?= 2
CTEST_ARGS ?=

.PHONY: all deps configure build run cluster cluster-down bench-cluster test test-asan fuzz fuzz-build fuzz-smoke bench soak format clean

all: build

deps:
	scripts/install-deps

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
	  -DPARLEY_WERROR=$(WERROR) -DCMAKE_CXX_COMPILER_LAUNCHER=$$(command -v ccache || true) \
	  $(CMAKE_FLAGS)

configure: deps $(BUILD_DIR)/build.ninja

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

# A chat node on 127.0.0.1:8080 with its LMDB store in ./data and the web client at /
# (Ctrl-C stops it cleanly).
LISTEN ?= 127.0.0.1:8080
DATA ?= ./data
# Builds only what it runs: the parley binary and the web bundle (not the tests or the
# benchmarks). The first build compiles them from scratch: about 10 minutes on a 2-core
# machine (README.md); later runs rebuild only what changed.
run: configure
	@test -x $(BUILD_DIR)/cli/parley || echo "make run: first build of parley and the web client; about 10 minutes on 2 cores"
	cmake --build $(BUILD_DIR) -j $(JOBS) --target parley parley_web
	$(BUILD_DIR)/cli/parley serve --listen $(LISTEN) --data $(DATA) --web-root $(BUILD_DIR)/web/dist

# A local three-node cluster on loopback (docs/cluster.md): three etcd members (clients on
# 127.0.0.1:23791-23793) and three nodes on 127.0.0.1:8081-8083, data and logs in
# ./cluster-data; it prints the leader's URL. Ctrl-C stops all six processes. Builds what
# `make run` builds.
cluster: configure
	@test -x $(BUILD_DIR)/cli/parley || echo "make cluster: first build of parley and the web client; about 10 minutes on 2 cores"
	cmake --build $(BUILD_DIR) -j $(JOBS) --target parley parley_web
	BUILD_DIR=$(BUILD_DIR) scripts/cluster

# Stops a `make cluster` running elsewhere (another terminal, or in the background): exactly
# the six processes it started, by pid.
cluster-down:
	scripts/cluster --down

test: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS) $(CTEST_ARGS)

# Every test again under AddressSanitizer and UndefinedBehaviorSanitizer. The scenario sweeps
# run seeds 1..10 here (ASAN_SIM_SEEDS), not 1..50: the sanitizers look for memory errors,
# which the first seeds exercise as well as the last, and a Debug + ASan simulator runs
# about ten times slower (the cluster scenarios took 3-6 minutes each over 50 seeds).
ASAN_SIM_SEEDS ?= 1..10
test-asan: deps
	$(MAKE) test BUILD_DIR=build-asan BUILD_TYPE=Debug WERROR=$(WERROR) \
	  CMAKE_FLAGS="-DPARLEY_SANITIZE=ON -DPARLEY_SIM_SEEDS=$(ASAN_SIM_SEEDS) $(CMAKE_FLAGS)"

# libFuzzer: each target runs FUZZ_SECONDS (default 300) from tests/fuzz/corpus, printing
# its progress; a crash stops with the reproducer's path. fuzz-smoke is CI's short run.
FUZZ_SECONDS ?= 300
FUZZ_TARGETS = frame_binary frame_json http_request scenario log_entry
fuzz-build: deps
	CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DPARLEY_FUZZ=ON -DCMAKE_CXX_COMPILER_LAUNCHER=$$(command -v ccache || true)
	cmake --build build-fuzz -j $(JOBS) --target $(addprefix fuzz_,$(FUZZ_TARGETS))

fuzz: fuzz-build
	@set -e; for target in $(FUZZ_TARGETS); do \
	  mkdir -p build-fuzz/corpus/$$target; \
	  echo "== fuzz_$$target for $(FUZZ_SECONDS) s"; \
	  build-fuzz/tests/fuzz/fuzz_$$target build-fuzz/corpus/$$target tests/fuzz/corpus/$$target \
	    -max_total_time=$(FUZZ_SECONDS) -timeout=30 -rss_limit_mb=4096 -print_final_stats=1 \
	    -artifact_prefix=build-fuzz/ || exit 1; \
	done

fuzz-smoke:
	$(MAKE) fuzz FUZZ_SECONDS=15

# Micro-benchmarks and short end-to-end loads; writes bench/RESULTS.md (about 8 minutes).
bench: build
	BUILD_DIR=$(BUILD_DIR) scripts/bench-report

# The cluster's figures (failover per fault, cluster vs one node, the log's cost, a fresh
# replica's catch-up) into bench/CLUSTER.md and bench/RESULTS.md; about 25 minutes.
bench-cluster: build
	BUILD_DIR=$(BUILD_DIR) scripts/bench-cluster

# The fault-injection suite over many seeds, with a line per seed as it goes.
SOAK_SEEDS ?= 1..1000
soak: build
	@set -e; for scenario in scenarios/*.toml scenarios/soak/*.toml; do \
	  $(BUILD_DIR)/cli/parley sim $$scenario --seeds $(SOAK_SEEDS); \
	done

format:
	git ls-files --cached --others --exclude-standard '*.cpp' '*.hpp' | xargs -r clang-format -i

clean:
	rm -rf $(BUILD_DIR)
