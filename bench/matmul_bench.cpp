// matmul throughput per weight type and ISA, plus whole-model matmul passes shaped like
// SmolLM2-135M (hidden 576, ffn 1536, 30 layers, 9 heads / 3 kv heads of 64, vocab
// 49152): the forward pass's matmuls for one decoded token, for a 512-token prefill and
// for one decode step of 32 streams.
//
//   bench_matmul [--benchmark_filter=...]   RAGD_BENCH_THREADS=2 (default: 2)
//
// Counters: GB/s = weight bytes read per second (decode is bound by this: ~38 GB/s on the
// AVX-512 machine, ~16 GB/s on Zen 2), GFLOP/s = 2*rows*cols*n per second, tok/s = tokens
// per second of the model-shaped passes (matmuls only: attention, norms and sampling are
// not included), instr = instructions per second of the peak/ probes (per CPU second).
#include <benchmark/benchmark.h>
#include <immintrin.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kernels/interleave.h"
#include "kernels/matmul.h"
#include "kernels/quants.h"

using namespace ragd::kernels;

namespace {

ThreadPool& pool() {
  static ThreadPool p([] {
    const char* env = std::getenv("RAGD_BENCH_THREADS");
    return env ? static_cast<size_t>(std::atoi(env)) : size_t{2};
  }());
  return p;
}

// A rows x cols weight matrix of `type`, filled by quantizing 64 random rows and
// repeating them (speed does not depend on the values; quantizing 100 MB would).
struct Matrix {
  std::vector<uint8_t> data;
  WeightView view;
  Matrix(TensorType type, size_t rows, size_t cols, uint32_t seed) {
    const size_t rb = row_bytes(type, cols);
    data.resize(rows * rb);
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, 0.05f);
    std::vector<float> row(cols);
    const size_t distinct = std::min<size_t>(rows, 64);
    for (size_t r = 0; r < distinct; ++r) {
      for (auto& v : row) v = dist(rng);
      quantize_row(type, row.data(), data.data() + r * rb, cols);
    }
    for (size_t r = distinct; r < rows; ++r) {
      std::memcpy(data.data() + r * rb, data.data() + (r % distinct) * rb, rb);
    }
    view = WeightView{type, data.data(), rows, cols};
  }
  // Copies the weights into the layout the model loader would use (interleaved where the
  // active ISA's kernels prefer it, see LlamaModel::for_matmul).
  void as_loaded() {
    if (!prefers_interleaved(view)) return;
    interleaved = std::make_unique<InterleavedWeight>(view, pool());
    view = interleaved->view();
  }
  std::unique_ptr<InterleavedWeight> interleaved;
};

std::vector<float> random_acts(size_t n, size_t cols) {
  std::vector<float> x(n * cols);
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (auto& v : x) v = dist(rng);
  return x;
}

// One big matrix (~100 MB at n = 1 so it cannot sit in the 32 MB L3), or with `hot` a
// 256 x 2048 one that stays in L2: that measures the kernel's compute cost alone.
void BM_Matmul(benchmark::State& state, TensorType type, Isa isa, size_t n, bool hot, bool loaded) {
  if (isa > best_isa()) {
    state.SkipWithError("ISA not supported");
    return;
  }
  force_isa(isa);
  const size_t cols = 2048;
  const size_t rows = hot ? 256 : n == 1 ? (100u << 20) / row_bytes(type, cols) / 16 * 16 : 2048;
  Matrix w(type, rows, cols, 1);
  if (loaded) w.as_loaded();
  const auto x = random_acts(n, cols);
  std::vector<float> y(n * rows);
  for (auto _ : state) {
    matmul(w.view, x.data(), n, y.data(), pool());
    benchmark::DoNotOptimize(y.data());
  }
  const double bytes = static_cast<double>(w.data.size());
  const double flops = 2.0 * rows * cols * n;
  state.counters["GB/s"] = benchmark::Counter(bytes / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/s"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  force_isa(best_isa());
}

// llama-quantize's fallback for k-quants on rows that are not a multiple of 256 columns
// (SmolLM2's 576): Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0. So in a SmolLM2 Q4_K_M file
// only ffn_down (1536 columns) is really a k-quant.
TensorType k_fallback(TensorType t, size_t cols) {
  if (cols % 256 == 0) return t;
  switch (t) {
    case TensorType::Q4_K: return TensorType::Q5_0;
    case TensorType::Q5_K: return TensorType::Q5_1;
    case TensorType::Q6_K: return TensorType::Q8_0;
    default: return t;
  }
}

// The matmuls of a SmolLM2-135M-shaped model.
struct SmolModel {
  std::vector<std::unique_ptr<Matrix>> layers;  // 7 per layer: q k v o gate up down
  std::unique_ptr<Matrix> output;
  SmolModel(TensorType layer_type, TensorType output_type, bool k_mix, bool as_loaded) {
    const size_t h = 576, kv = 192, ffn = 1536;
    uint32_t seed = 1;
    for (int l = 0; l < 30; ++l) {
      // Q4_K_M keeps attn_v and ffn_down in Q6_K for about half the layers.
      const TensorType vd = (k_mix && l % 2 == 0) ? TensorType::Q6_K : layer_type;
      const TensorType lt = k_fallback(layer_type, h);
      layers.push_back(std::make_unique<Matrix>(lt, h, h, seed++));
      layers.push_back(std::make_unique<Matrix>(lt, kv, h, seed++));
      layers.push_back(std::make_unique<Matrix>(k_fallback(vd, h), kv, h, seed++));
      layers.push_back(std::make_unique<Matrix>(lt, h, h, seed++));
      layers.push_back(std::make_unique<Matrix>(lt, ffn, h, seed++));
      layers.push_back(std::make_unique<Matrix>(lt, ffn, h, seed++));
      layers.push_back(std::make_unique<Matrix>(k_fallback(vd, ffn), h, ffn, seed++));
    }
    output = std::make_unique<Matrix>(k_fallback(output_type, h), 49152, h, seed++);
    if (as_loaded) {
      for (auto& m : layers) m->as_loaded();
      output->as_loaded();
    }
  }
  size_t bytes() const {
    size_t b = output->data.size();
    for (const auto& m : layers) b += m->data.size();
    return b;
  }
};

// n = 1: one decoded token; otherwise a prefill of n tokens (logits of the last only) or,
// with `batch`, one decode step of n streams (logits of every row).
void BM_SmolForward(benchmark::State& state, TensorType layer_type, TensorType output_type,
                    bool k_mix, size_t n, bool batch, bool as_loaded) {
  SmolModel model(layer_type, output_type, k_mix, as_loaded);
  const auto x = random_acts(n, 1536);
  std::vector<float> y(n * 49152);
  for (auto _ : state) {
    for (const auto& m : model.layers) matmul(m->view, x.data(), n, y.data(), pool());
    // Prefill only needs the last token's logits.
    matmul(model.output->view, x.data(), batch ? n : 1, y.data(), pool());
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["tok/s"] = benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["MB"] = static_cast<double>(model.bytes()) / 1e6;
  if (n == 1) {
    state.counters["GB/s"] = benchmark::Counter(static_cast<double>(model.bytes()) / 1e9,
                                                benchmark::Counter::kIsIterationInvariantRate);
  }
}

// Cost of one parallel_for with one trivial task per thread (the per-matmul overhead;
// decode issues ~200-400 of them per token).
void BM_PoolDispatch(benchmark::State& state) {
  std::atomic<size_t> sink{0};
  for (auto _ : state) {
    pool().parallel_for(pool().size(), [&](size_t task, size_t) { sink.fetch_add(task, std::memory_order_relaxed); });
  }
  benchmark::DoNotOptimize(sink.load());
}

// The machine's read bandwidth, the bound of memory-bound decode: the pool's threads each
// sum their share of a 1 GiB buffer (far beyond L3) with 256-bit loads, 8 independent
// chains so the loads, not the adds, limit. GB/s = buffer bytes per second.
__attribute__((target("avx2"))) long sum_bytes(const uint8_t* data, size_t bytes) {
  const auto* p = reinterpret_cast<const __m256i*>(data);
  __m256i acc[8];
  for (auto& a : acc) a = _mm256_setzero_si256();
  for (size_t i = 0; i < bytes / 32; i += 8) {
    for (int j = 0; j < 8; ++j) acc[j] = _mm256_add_epi64(acc[j], _mm256_load_si256(p + i + j));
  }
  for (int j = 1; j < 8; ++j) acc[0] = _mm256_add_epi64(acc[0], acc[j]);
  return _mm256_extract_epi64(acc[0], 0);
}

void BM_ReadBandwidth(benchmark::State& state) {
  if (best_isa() < Isa::Avx2) {
    state.SkipWithError("no AVX2");
    return;
  }
  const size_t bytes = size_t{1} << 30;
  std::unique_ptr<uint8_t, decltype(&std::free)> buf(
      static_cast<uint8_t*>(std::aligned_alloc(64, bytes)), &std::free);
  std::memset(buf.get(), 1, bytes);  // fault every page in before timing
  const size_t tasks = pool().size();
  const size_t share = bytes / tasks;
  std::atomic<long> sink{0};
  for (auto _ : state) {
    pool().parallel_for(tasks, [&](size_t task, size_t) {
      sink.fetch_add(sum_bytes(buf.get() + task * share, share), std::memory_order_relaxed);
    });
  }
  benchmark::DoNotOptimize(sink.load());
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(bytes) / 1e9,
                                              benchmark::Counter::kIsIterationInvariantRate);
}

// Instruction-throughput probes behind the compute bound of docs/benchmarks.md ("Serving on
// Zen 2"), one thread. peak/clock: a chain of dependent adds retires one per cycle, so
// adds per second is the clock (run two copies at once for the all-core clock).
// peak/maddubs: vpmaddubsw on 8 independent chains, per second; peak/maddubs_maddwd: half of
// them vpmaddwd, which on Zen 2 shares vpmaddubsw's pipe, so the rate stays the same.
// Divided by the clock, either is instructions per cycle.
constexpr long kProbeSteps = 1 << 20;

void BM_PeakClock(benchmark::State& state) {
  for (auto _ : state) {
    long x = 0;
    for (long i = 0; i < kProbeSteps; ++i) {
      asm volatile("add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0" : "+r"(x));
    }
    benchmark::DoNotOptimize(x);
  }
  state.counters["instr"] = benchmark::Counter(4.0 * kProbeSteps,
                                                benchmark::Counter::kIsIterationInvariantRate);
}

__attribute__((target("avx2"))) void BM_PeakMaddubs(benchmark::State& state, bool mixed) {
  if (best_isa() < Isa::Avx2) {
    state.SkipWithError("no AVX2");
    return;
  }
  const __m256i b = _mm256_set1_epi8(5);
  __m256i r[8];
  for (auto& v : r) v = b;
  for (auto _ : state) {
    for (long i = 0; i < kProbeSteps; ++i) {
      asm volatile("vpmaddubsw %1, %0, %0" : "+x"(r[0]) : "x"(b));
      asm volatile("vpmaddubsw %1, %0, %0" : "+x"(r[1]) : "x"(b));
      asm volatile("vpmaddubsw %1, %0, %0" : "+x"(r[2]) : "x"(b));
      asm volatile("vpmaddubsw %1, %0, %0" : "+x"(r[3]) : "x"(b));
      if (mixed) {
        asm volatile("vpmaddwd %1, %0, %0" : "+x"(r[4]) : "x"(b));
        asm volatile("vpmaddwd %1, %0, %0" : "+x"(r[5]) : "x"(b));
        asm volatile("vpmaddwd %1, %0, %0" : "+x"(r[6]) : "x"(b));
        asm volatile("vpmaddwd %1, %0, %0" : "+x"(r[7]) : "x"(b));
      } else {
        asm volatile("vpmaddubsw %1, %0, %0" : "+x"(r[4]) : "x"(b));
        asm volatile("vpmaddubsw %1, %0, %0" : "+x"(r[5]) : "x"(b));
        asm volatile("vpmaddubsw %1, %0, %0" : "+x"(r[6]) : "x"(b));
        asm volatile("vpmaddubsw %1, %0, %0" : "+x"(r[7]) : "x"(b));
      }
    }
  }
  for (auto& v : r) benchmark::DoNotOptimize(v);
  state.counters["instr"] = benchmark::Counter(8.0 * kProbeSteps,
                                                benchmark::Counter::kIsIterationInvariantRate);
}

void register_all() {
  benchmark::RegisterBenchmark("pool/dispatch", BM_PoolDispatch)->Unit(benchmark::kMicrosecond)->UseRealTime();
  benchmark::RegisterBenchmark("peak/clock", BM_PeakClock)->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("peak/read_bandwidth", BM_ReadBandwidth)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::RegisterBenchmark("peak/maddubs", BM_PeakMaddubs, false)->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("peak/maddubs_maddwd", BM_PeakMaddubs, true)->Unit(benchmark::kMillisecond);
  const TensorType types[] = {TensorType::Q4_1, TensorType::Q8_0, TensorType::Q4_0,
                              TensorType::Q5_0, TensorType::Q5_1, TensorType::Q4_K,
                              TensorType::Q5_K, TensorType::Q6_K, TensorType::F16,
                              TensorType::BF16, TensorType::F32};
  for (Isa isa : {Isa::Amx, Isa::AmxInt8, Isa::Avx512, Isa::Avx2, Isa::Scalar}) {
    for (TensorType t : types) {
      for (size_t n : {size_t{1}, size_t{512}}) {
        const std::string name = "matmul/" + std::string(isa_name(isa)) + "/" +
                                 std::string(type_name(t)) + "/n=" + std::to_string(n);
        benchmark::RegisterBenchmark(name.c_str(), BM_Matmul, t, isa, n, false, false)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
      }
      const std::string hot = "matmul_hot/" + std::string(isa_name(isa)) + "/" +
                              std::string(type_name(t)) + "/n=1";
      benchmark::RegisterBenchmark(hot.c_str(), BM_Matmul, t, isa, size_t{1}, true, false)
          ->Unit(benchmark::kMicrosecond);
    }
  }
  // Small batches (several decode streams stepped together) for the 32-block types, and
  // the k-quants where AMX takes over from AVX-512 VNNI.
  for (Isa isa : {Isa::Amx, Isa::AmxInt8, Isa::Avx512, Isa::Avx2}) {
    for (TensorType t : {TensorType::Q4_1, TensorType::Q8_0, TensorType::Q4_0, TensorType::Q5_0,
                         TensorType::Q4_K, TensorType::Q6_K}) {
      for (size_t n : {2, 4, 8, 16, 32, 64, 128}) {
        const std::string name = "matmul/" + std::string(isa_name(isa)) + "/" +
                                 std::string(type_name(t)) + "/n=" + std::to_string(n);
        benchmark::RegisterBenchmark(name.c_str(), BM_Matmul, t, isa, n, false, false)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
      }
    }
  }
  // matmul_loaded/: the weights in the layout the model loader gives them for the ISA
  // (Interleaved16 where prefers_interleaved; the matmul/ cases above stay row-major, so
  // the two side by side show what the layout gains).
  for (Isa isa : {Isa::Avx512, Isa::Avx2}) {
    for (TensorType t : {TensorType::Q4_0, TensorType::Q5_0, TensorType::Q8_0, TensorType::Q4_K}) {
      for (size_t n : {1, 16, 512}) {
        const std::string name = "matmul_loaded/" + std::string(isa_name(isa)) + "/" +
                                 std::string(type_name(t)) + "/n=" + std::to_string(n);
        benchmark::RegisterBenchmark(name.c_str(), BM_Matmul, t, isa, n, false, true)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
      }
    }
  }
  struct ModelCase {
    const char* name;
    TensorType layer, output;
    bool k_mix;
  };
  const ModelCase models[] = {
      {"q4_1", TensorType::Q4_1, TensorType::Q8_0, false},
      {"q8_0", TensorType::Q8_0, TensorType::Q8_0, false},
      {"q4_0", TensorType::Q4_0, TensorType::Q4_0, false},
      {"q4_k_m", TensorType::Q4_K, TensorType::Q6_K, true},
      {"f16", TensorType::F16, TensorType::F16, false},
  };
  // smollm2_135m/: weights as the model loader lays them out (interleaved where the
  // kernels prefer it); smollm2_135m_rowmajor/: GGUF's row-major layout, for comparison.
  for (bool as_loaded : {true, false}) {
    const std::string prefix = as_loaded ? "smollm2_135m/" : "smollm2_135m_rowmajor/";
    for (const auto& m : models) {
      for (size_t n : {size_t{1}, size_t{512}}) {
        const std::string name = prefix + m.name + (n == 1 ? "/decode" : "/prefill512");
        benchmark::RegisterBenchmark(name.c_str(), BM_SmolForward, m.layer, m.output, m.k_mix, n,
                                     false, as_loaded)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
      }
      const std::string name = prefix + m.name + "/decode_batch32";
      benchmark::RegisterBenchmark(name.c_str(), BM_SmolForward, m.layer, m.output, m.k_mix,
                                   size_t{32}, true, as_loaded)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
