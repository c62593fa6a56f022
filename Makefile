# ragd: the two entry points are `make run` and `make test` (see README.md).
BUILD ?= build
CMAKE_FLAGS ?=
JOBS ?= $(shell nproc)

.PHONY: run test build setup models embedder clean tsan bench fuzz asan install

run: setup build embedder
	./scripts/run-main $(BUILD)/bin/ragd

test: setup build embedder
	./scripts/run-tests $(BUILD)

setup:
	./scripts/setup

models:
	./scripts/setup models

# The default embedder is converted to GGUF by the freshly built binary (scripts/fetch-models
# only fetches its checkpoint).
embedder: build
	./scripts/convert-embedder $(BUILD)

build:
	@test -f $(BUILD)/build.ninja || cmake -S . -B $(BUILD) -G Ninja $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j $(JOBS)

# make install [PREFIX=/usr/local] [DESTDIR=]: builds ragd in $(BUILD) (the default build type,
# -O3 with debug info) and installs it stripped, with its default settings, bash completion
# and systemd unit (cmake/RagdInstall.cmake lists the paths). Only the ragd target is built:
# the tests are not needed to install.
PREFIX ?= /usr/local
install:
	@test -f $(BUILD)/build.ninja || cmake -S . -B $(BUILD) -G Ninja $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j $(JOBS) --target ragd
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix "$(PREFIX)" --strip

# Concurrency code (thread pool, threaded matmuls, embedding service and cache, KV block
# manager, scheduler, model registry, and the server's metrics registry, rate limiter,
# ingestion jobs, SSE client, load generator, the connection server's limits and TLS, auth and
# active-user tracking; in rag: the forked bounded child and PDF parsing in it, ingestion,
# and the result and answer caches) under ThreadSanitizer, in a separate build tree.
TSAN_TESTS = ThreadPool|Matmul|Interleave|InterleavedMatmul|EmbeddingService|EmbeddingCache|Stories260K.Batched|BlockManager|SchedulerTest|ModelRegistry|Metrics|RateLimiter|IngestJobs|SseChatClient|LoadGenerator|HttpLimits|Auth|ActiveUsers|ProcessStats|ApiError|RequestParsing|HttpsServer|TlsContext|BoundedChild|Pdf|Ingest|AnswerCache|ResultCache
tsan: setup
	@test -f build-tsan/build.ninja || cmake -S . -B build-tsan -G Ninja -DRAGD_TSAN=ON
	cmake --build build-tsan -j $(JOBS) --target test_kernels test_engine test_server test_rag
	cd build-tsan && TSAN_OPTIONS="halt_on_error=1 suppressions=$(CURDIR)/tests/tsan_suppressions.txt" \
	  ctest --output-on-failure -R '$(TSAN_TESTS)'

# Fuzzing: the fuzz/ targets built with clang's libFuzzer under ASan + UBSan in build-fuzz
# (scripts/setup fuzz installs clang on demand), then FUZZ_TIME seconds per target
# (scripts/run-fuzz; FUZZ_TARGETS narrows it). See docs/reliability.md.
FUZZ_TIME ?= 60
FUZZ_TARGETS ?=
fuzz:
	./scripts/setup fuzz
	@test -f build-fuzz/build.ninja || CC=clang-16 CXX=clang++-16 cmake -S . -B build-fuzz -G Ninja -DRAGD_FUZZ=ON -DRAGD_BUILD_TESTS=OFF
	cmake --build build-fuzz -j $(JOBS) --target fuzz_all
	./scripts/run-fuzz build-fuzz $(FUZZ_TIME) $(FUZZ_TARGETS)

# The whole test suite under AddressSanitizer + UBSan (gcc) in build-asan; any report fails
# the test that triggered it.
ASAN_ENV = ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
asan: setup embedder
	@test -f build-asan/build.ninja || cmake -S . -B build-asan -G Ninja -DRAGD_ASAN=ON
	cmake --build build-asan -j $(JOBS)
	cd build-asan && $(ASAN_ENV) ctest --output-on-failure -j $(JOBS) --timeout 1800

clean:
	rm -rf $(BUILD) build-tsan
