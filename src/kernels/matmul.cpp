// matmul driver: picks the kernel for (ISA, weight type), packs the activations once per
// call into the kernel's format, and splits the weight rows into tasks on the pool.
#include "kernels/matmul.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/gemm.h"
#include "kernels/interleave.h"
#include "kernels/quants.h"
#include "kernels/scratch_buffer.h"
#include "util/error.h"

namespace ragd::kernels {
namespace {

using detail::ActFormat;
using detail::GemmArgs;
using detail::GemmKernel;

// RAGD_ISA=scalar|avx2|avx512|amx-int8 lowers the ISA for the whole process (debugging,
// A/B); RAGD_ISA=amx turns the bf16 AMX kernels on. They are opt-in because they round
// differently (bf16 instead of 8-bit activations) while the other kernels give every row
// the same result whatever the batch: with them, a greedy answer could change with the
// server's load (a decode step batched with another prompt's prefill) or with how much of
// the prompt the prefix cache served, and the tests hold ragd to answers that do not.
// Any other value is refused by name.
Isa initial_isa() {
  const Isa best = best_isa();
  const Isa batch_invariant = std::min(best, Isa::AmxInt8);
  const char* env = std::getenv("RAGD_ISA");
  if (!env || !*env) return batch_invariant;
  const std::string v(env);
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::AmxInt8, Isa::Amx}) {
    if (v == isa_name(isa)) return std::min(isa, best);
  }
  fail("RAGD_ISA={}: expected one of scalar, avx2, avx512, amx-int8, amx", v);
}

std::atomic<Isa>& isa_state() {
  static std::atomic<Isa> isa{initial_isa()};
  return isa;
}

GemmKernel select_kernel(Isa isa, TensorType type, size_t n, Isa* chosen = nullptr,
                         WeightLayout layout = WeightLayout::RowMajor) {
  // Opt-in bf16 tiles first (they take every quantized type), then the exact int8 tiles.
  if (isa >= Isa::Amx) {
    if (chosen) *chosen = Isa::Amx;
    if (auto k = detail::amx_kernel(type, n, layout); k.fn) return k;
  }
  if (isa >= Isa::AmxInt8) {
    if (chosen) *chosen = Isa::AmxInt8;
    if (auto k = detail::amx_int8_kernel(type, n, layout); k.fn) return k;
  }
  if (chosen) *chosen = Isa::Avx512;
  if (layout == WeightLayout::Interleaved16) {
    // The AVX-512 and AVX2 kernels read it; the scalar path, gemm_dequant, goes through
    // get_row.
    if (isa >= Isa::Avx512) {
      if (auto k = detail::avx512_interleaved_kernel(type); k.fn) return k;
    }
    if (chosen) *chosen = Isa::Avx2;
    if (isa >= Isa::Avx2) {
      if (auto k = detail::avx2_interleaved_kernel(type); k.fn) return k;
      return detail::avx2_kquant_interleaved_kernel(type);
    }
    if (chosen) *chosen = Isa::Scalar;
    return {};
  }
  if (isa >= Isa::Avx512) {
    if (auto k = detail::avx512_kernel(type, n); k.fn) return k;
  }
  if (chosen) *chosen = Isa::Avx2;
  if (isa >= Isa::Avx2) {
    if (auto k = detail::avx2_kernel(type); k.fn) return k;
  }
  if (chosen) *chosen = Isa::Scalar;
  return detail::scalar_kernel(type);
}

// Scratch for packed activations: one per calling thread; the workers of a call only ever
// write disjoint rows of the caller's buffer.
using Scratch = detail::ScratchBuffer;

// Weight types without a kernel (Q2_K, Q3_K, ...): dequantize a row, then float dots.
void gemm_dequant(const WeightView& w, const float* x, size_t n, float* y, size_t r0, size_t r1) {
  std::vector<float> row(w.cols);
  for (size_t r = r0; r < r1; ++r) {
    get_row(w, r, row.data());
    for (size_t i = 0; i < n; ++i) {
      const float* xi = x + i * w.cols;
      float acc = 0;
      for (size_t k = 0; k < w.cols; ++k) acc += row[k] * xi[k];
      y[i * w.rows + r] = acc;
    }
  }
}

struct Job {
  Isa isa;
  GemmKernel kernel;
  GemmArgs args;
  const WeightView* w;
  const float* x;
  size_t n;
  size_t chunk;  // weight rows per task
  // Packing tasks (before the gemm) use these.
  uint8_t* packed;
  size_t units;           // packing units (rows or panels)
  size_t units_per_task;
};

void run_gemm_task(void* ctx, size_t task, size_t /*thread*/) {
  const Job& j = *static_cast<const Job*>(ctx);
  const size_t r0 = task * j.chunk;
  const size_t r1 = std::min(j.w->rows, r0 + j.chunk);
  if (j.kernel.fn) {
    j.kernel.fn(j.args, r0, r1, 0, j.n);
  } else {
    gemm_dequant(*j.w, j.x, j.n, j.args.y, r0, r1);
  }
}

void run_pack_task(void* ctx, size_t task, size_t /*thread*/) {
  const Job& j = *static_cast<const Job*>(ctx);
  const size_t u0 = task * j.units_per_task;
  const size_t u1 = std::min(j.units, u0 + j.units_per_task);
  detail::pack_units(j.isa, j.kernel.act, j.kernel.aux, j.x, j.w->cols, j.n, u0, u1, j.packed);
}

// Rows per task: enough tasks for dynamic load balance (4 per thread), few enough that
// each task's dispatch cost is amortised, and, when several activation rows reuse the
// weights, small enough that a task's weight rows stay in L2 across activation tiles.
size_t plan_chunk(const WeightView& w, size_t n, size_t row_bytes, size_t n_threads) {
  constexpr size_t kRowAlign = 16;
  constexpr size_t kMinWork = 1 << 15;  // weights per task below which splitting loses
  constexpr size_t kL2Budget = 256 << 10;
  if (n_threads <= 1 || w.rows * w.cols * n < 2 * kMinWork) return w.rows;
  size_t chunk = (w.rows + 4 * n_threads - 1) / (4 * n_threads);
  chunk = std::max(chunk, kMinWork / std::max<size_t>(1, w.cols * n));
  if (n > 1) chunk = std::min(chunk, std::max<size_t>(kRowAlign, kL2Budget / row_bytes));
  chunk = (chunk + kRowAlign - 1) / kRowAlign * kRowAlign;
  return std::min(chunk, w.rows);
}

void check_shape(const WeightView& w) {
  const auto& t = traits(w.type);
  if (w.cols % t.block_size != 0) {
    fail("matmul: {} columns is not a multiple of the {} block size {}", w.cols, t.name,
         t.block_size);
  }
  if (!can_dequantize(w.type)) fail("matmul: weights of type {} are not supported", t.name);
  if (w.layout == WeightLayout::Interleaved16 && !can_interleave(w.type, w.rows, w.cols)) {
    fail("matmul: a {} x {} {} matrix cannot be interleaved", w.rows, w.cols, t.name);
  }
}

}  // namespace

std::string_view isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
    case Isa::AmxInt8: return "amx-int8";
    case Isa::Amx: return "amx";
  }
  return "?";
}

Isa best_isa() {
  static const Isa best = detect_isa();
  return best;
}

Isa active_isa() { return isa_state().load(std::memory_order_relaxed); }

void force_isa(Isa isa) {
  if (isa > best_isa()) {
    fail("cannot force ISA {}: this CPU supports at most {}", isa_name(isa), isa_name(best_isa()));
  }
  isa_state().store(isa, std::memory_order_relaxed);
}

Isa kernel_isa(TensorType type, size_t n) {
  Isa chosen;
  select_kernel(active_isa(), type, n, &chosen);
  return chosen;
}

void get_row(const WeightView& w, size_t r, float* out) {
  const size_t rb = row_bytes(w.type, w.cols);
  const auto* data = static_cast<const uint8_t*>(w.data);
  if (w.layout == WeightLayout::Interleaved16) {
    thread_local std::vector<uint8_t> row;
    row.resize(rb);
    deinterleave_row(w.type, data, w.cols, r, row.data());
    dequantize_row(w.type, row.data(), out, w.cols);
    return;
  }
  dequantize_row(w.type, data + r * rb, out, w.cols);
}

void matmul_reference(const WeightView& w, const float* x, size_t n, float* y) {
  check_shape(w);
  std::vector<float> row(w.cols);
  for (size_t r = 0; r < w.rows; ++r) {
    get_row(w, r, row.data());
    for (size_t i = 0; i < n; ++i) {
      const float* xi = x + i * w.cols;
      double acc = 0;
      for (size_t k = 0; k < w.cols; ++k) acc += static_cast<double>(row[k]) * xi[k];
      y[i * w.rows + r] = static_cast<float>(acc);
    }
  }
}

namespace {

// Prepares one weight matrix's part of a dispatch: picks the kernel and packs the
// activations (reusing `shared` when an earlier job of the same call already packed x in
// the same format), then plans its row chunks.
void prepare_job(Job& job, const WeightView& w, const float* x, size_t n, float* y,
                 ThreadPool& pool, Scratch& scratch, const Job* shared) {
  check_shape(w);
  job.isa = active_isa();
  job.kernel = select_kernel(job.isa, w.type, n, nullptr, w.layout);
  job.w = &w;
  job.x = x;
  job.n = n;
  const size_t wrow = row_bytes(w.type, w.cols);
  job.args = GemmArgs{static_cast<const uint8_t*>(w.data), wrow, w.cols, nullptr, 0, y, w.rows};

  if (job.kernel.fn && job.kernel.act != ActFormat::F32) {  // F32 rows are used in place
    if (shared && shared->kernel.fn && shared->kernel.act == job.kernel.act &&
        shared->kernel.aux == job.kernel.aux && shared->w->cols == w.cols) {
      job.args.a = shared->args.a;
      job.args.a_stride = shared->args.a_stride;
    } else {
      const size_t unit = detail::pack_unit_rows(job.kernel.act);
      job.units = (n + unit - 1) / unit;
      job.args.a_stride = detail::packed_stride(job.kernel.act, w.cols);
      job.packed = scratch.get(job.args.a_stride * job.units);
      job.args.a = job.packed;
      // Packing is ~1% of the gemm's work; only worth threads for big batches.
      const size_t pack_tasks = n * w.cols >= (1 << 16) ? std::min(job.units, 4 * pool.size()) : 1;
      job.units_per_task = (job.units + pack_tasks - 1) / pack_tasks;
      const size_t n_pack_tasks = (job.units + job.units_per_task - 1) / job.units_per_task;
      if (n_pack_tasks > 1) {
        pool.parallel_for(n_pack_tasks, run_pack_task, &job);
      } else {
        run_pack_task(&job, 0, 0);
      }
    }
  } else {
    job.args.a = reinterpret_cast<const uint8_t*>(x);
    job.args.a_stride = w.cols * sizeof(float);
  }
  job.chunk = job.kernel.tiles ? detail::amx_chunk_rows(w.rows, pool.size())
                               : plan_chunk(w, n, wrow, pool.size());
}

size_t job_tasks(const Job& job) { return (job.w->rows + job.chunk - 1) / job.chunk; }

// The row chunks of several jobs as one task list: task t belongs to the first job whose
// cumulative task count exceeds t.
struct JobGroup {
  static constexpr size_t kMax = 4;
  Job jobs[kMax];
  size_t first_task[kMax + 1] = {};
  size_t count = 0;
};

void run_group_task(void* ctx, size_t task, size_t thread) {
  JobGroup& g = *static_cast<JobGroup*>(ctx);
  size_t j = 0;
  while (task >= g.first_task[j + 1]) ++j;
  run_gemm_task(&g.jobs[j], task - g.first_task[j], thread);
}

}  // namespace

void matmul(const WeightView& w, const float* x, size_t n, float* y, ThreadPool& pool) {
  if (n == 0 || w.rows == 0) return;
  thread_local Scratch scratch;
  Job job{};
  prepare_job(job, w, x, n, y, pool, scratch, nullptr);
  pool.parallel_for(job_tasks(job), run_gemm_task, &job);
}

void matmul_group(std::span<const MatmulTarget> targets, const float* x, size_t n,
                  ThreadPool& pool) {
  if (n == 0 || targets.empty()) return;
  if (targets.size() > JobGroup::kMax) fail("matmul_group: at most {} targets", JobGroup::kMax);
  thread_local Scratch scratch[JobGroup::kMax];
  JobGroup group;
  for (const auto& t : targets) {
    if (t.w->rows == 0) continue;
    if (t.w->cols != targets[0].w->cols) fail("matmul_group: every weight must have x's columns");
    Job& job = group.jobs[group.count];
    prepare_job(job, *t.w, x, n, t.y, pool, scratch[group.count],
                group.count ? &group.jobs[0] : nullptr);
    group.first_task[group.count + 1] = group.first_task[group.count] + job_tasks(job);
    ++group.count;
  }
  if (group.count == 0) return;
  pool.parallel_for(group.first_task[group.count], run_group_task, &group);
}

}  // namespace ragd::kernels
