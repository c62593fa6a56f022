// Model variants: the same model in several quantizations, and choosing the best one that
// fits a memory budget (`ragd pull --max-memory`, `ragd serve --max-memory`).
//
// Variants of one model share a stem: the file name without its quantization suffix
// ("Qwen2.5-Coder-1.5B-Instruct" for Qwen2.5-Coder-1.5B-Instruct.Q4_K_M), the catalog's
// naming, which `ragd pull` keeps for the variants it makes (<stem>.Q4_0).
//
// Quality order: llama.cpp's published perplexity increase of each quantization type
// (llama-quantize's table, LLaMA 7B): lower is better. F32 < F16 = BF16 < Q8_0 < Q6_K <
// Q5_K_M < Q5_K_S < Q5_1 < Q4_K_M < Q5_0 < Q4_K_S < Q4_1 < Q3_K_L < Q4_0 < Q3_K_M < Q3_K_S <
// Q2_K. The order, not file size, decides: Q4_1 files are larger than Q4_K_S and worse.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/model_memory.h"
#include "model/quant_plan.h"

namespace ragd::engine {

// Position of a quantization ("q4_k_m", "Q4_K_M", case-insensitive) in the quality order:
// 0 is best. Unknown names rank after every known one.
int quant_quality_rank(std::string_view quantization);

// The name without a trailing ".<quantization>" ("Qwen2.5-Coder-1.5B-Instruct.Q4_K_M" →
// "Qwen2.5-Coder-1.5B-Instruct"); the name itself when it has no such suffix.
std::string variant_stem(std::string_view name);
// "<stem>.<QUANT>" with the quantization upper-cased as the catalog writes it.
std::string variant_name(std::string_view stem, std::string_view quantization);

// The types `ragd quantize` writes that rank below `quantization` in quality (the smaller
// variants a file of that type can be requantized to), best first.
std::vector<model::QuantTarget> requant_targets_below(std::string_view quantization);

struct VariantCandidate {
  std::string name;          // installed (or to-be-installed) model name
  std::string quantization;  // lower-case, e.g. "q4_k_m"
  bool requantized = false;  // made locally by `ragd quantize` from a pinned file
  MemoryEstimate memory;
};

// The best-quality candidate whose estimated memory is at most budget_bytes: lowest
// quant_quality_rank, then a pinned file before a requantized one (no second rounding),
// then the smaller estimate. nullptr when none fits.
const VariantCandidate* choose_variant(std::span<const VariantCandidate> candidates, uint64_t budget_bytes);

// The candidate with the smallest estimate (for "needs at least ..." messages); nullptr
// when there are none.
const VariantCandidate* smallest_variant(std::span<const VariantCandidate> candidates);

// Installed variants of the model in `path`: the GGUF files in `model_dir` with the same
// stem (case-insensitive), architecture and shape (layers, width, vocabulary), `path`
// itself included, with their estimates under `options`. Files whose header cannot be read
// are skipped.
std::vector<VariantCandidate> installed_variants(const std::string& path, const std::string& model_dir,
                                                 const SchedulerOptions& options,
                                                 std::vector<std::string>* paths = nullptr);

struct BudgetFit {
  std::string path;         // the file to serve: `path` or a smaller installed variant
  std::string name;         // its model name (file stem)
  MemoryEstimate memory;
  bool substituted = false;  // a variant replaces the requested file
};

// Serves `path` when its estimate plus `reserved_bytes` (other models that load with it,
// e.g. the embedder) fits `budget_bytes`; else the best installed variant that fits.
// Throws ragd::Error naming the estimate, the budget (`budget_text`) and the variants
// tried, with the command that makes a smaller one, when none fits.
BudgetFit fit_to_budget(const std::string& path, const std::string& model_dir, uint64_t budget_bytes,
                        std::string_view budget_text, uint64_t reserved_bytes, const SchedulerOptions& options);

}  // namespace ragd::engine
