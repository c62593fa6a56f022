# ragd: the two entry points are `make run` and `make test` (see README.md).
BUILD ?= build
CMAKE_FLAGS ?=
JOBS ?= $(shell nproc)

.PHONY: run test build setup models embedder clean tsan bench

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

# Concurrency code (thread pool, threaded matmuls, embedding service and cache, KV block
# manager, scheduler, model registry, and the server's metrics registry, rate limiter,
# ingestion jobs, SSE client and load generator) under ThreadSanitizer, in a separate build
# tree.
TSAN_TESTS = ThreadPool|Matmul|Interleave|InterleavedMatmul|EmbeddingService|EmbeddingCache|Stories260K.Batched|BlockManager|SchedulerTest|ModelRegistry|Metrics|RateLimiter|IngestJobs|SseChatClient|LoadGenerator
tsan: setup
	@test -f build-tsan/build.ninja || cmake -S . -B build-tsan -G Ninja -DRAGD_TSAN=ON
	cmake --build build-tsan -j $(JOBS) --target test_kernels test_engine test_server
	cd build-tsan && ctest --output-on-failure -R '$(TSAN_TESTS)'

clean:
	rm -rf $(BUILD) build-tsan
