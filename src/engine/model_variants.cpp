#include "engine/model_variants.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <filesystem>

#include "engine/model_store.h"
#include "model/llama_config.h"
#include "util/error.h"
#include "util/memory_budget.h"
#include "util/text.h"

namespace ragd::engine {
namespace {

// Best first (see the header). Entries on one line rank equal.
constexpr std::array<std::array<std::string_view, 2>, 16> kQualityOrder = {{
    {"f32", ""},  {"f16", "bf16"}, {"q8_0", ""}, {"q6_k", ""},   {"q5_k_m", ""}, {"q5_k_s", ""},
    {"q5_1", ""}, {"q4_k_m", ""},  {"q5_0", ""}, {"q4_k_s", ""}, {"q4_1", ""},   {"q3_k_l", ""},
    {"q4_0", ""}, {"q3_k_m", ""},  {"q3_k_s", ""}, {"q2_k", ""},
}};

// The smaller types `ragd quantize` writes, best first: the requantization targets.
constexpr std::string_view kRequantTargets[] = {"q6_k", "q5_k_m", "q5_k_s", "q5_1", "q4_k_m",
                                                 "q5_0", "q4_k_s", "q4_1",   "q4_0"};

// What identifies a model across its quantizations.
struct Shape {
  std::string arch;
  size_t n_layer = 0, n_embd = 0, n_vocab = 0;
  bool operator==(const Shape&) const = default;
};

std::optional<Shape> shape_of(const model::GgufFile& f) {
  try {
    const auto c = model::LlamaConfig::from_gguf(f);
    return Shape{c.arch, c.n_layer, c.n_embd, c.n_vocab};
  } catch (const Error&) {
    return std::nullopt;  // not a language model ragd serves: no variants
  }
}

}  // namespace

int quant_quality_rank(std::string_view quantization) {
  const std::string q = ascii_lower(quantization);
  for (size_t i = 0; i < kQualityOrder.size(); ++i) {
    for (auto name : kQualityOrder[i]) {
      if (!name.empty() && q == name) return static_cast<int>(i);
    }
  }
  return static_cast<int>(kQualityOrder.size());
}

std::string variant_stem(std::string_view name) {
  const size_t dot = name.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return std::string(name);
  const std::string suffix = ascii_lower(name.substr(dot + 1));
  const bool is_quant = quant_quality_rank(suffix) < static_cast<int>(kQualityOrder.size()) ||
                        (suffix.size() > 2 && (suffix[0] == 'q' || suffix.rfind("iq", 0) == 0) &&
                         std::isdigit(static_cast<unsigned char>(suffix[suffix[0] == 'q' ? 1 : 2])));
  return is_quant ? std::string(name.substr(0, dot)) : std::string(name);
}

std::string variant_name(std::string_view stem, std::string_view quantization) {
  std::string q(quantization);
  for (auto& c : q) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return fmt::format("{}.{}", stem, q);
}

std::vector<model::QuantTarget> requant_targets_below(std::string_view quantization) {
  const int rank = quant_quality_rank(quantization);
  std::vector<model::QuantTarget> out;
  for (auto name : kRequantTargets) {
    if (quant_quality_rank(name) <= rank) continue;
    if (auto t = model::parse_quant_target(name)) out.push_back(*t);
  }
  return out;
}

const VariantCandidate* choose_variant(std::span<const VariantCandidate> candidates, uint64_t budget_bytes) {
  const VariantCandidate* best = nullptr;
  auto better = [](const VariantCandidate& a, const VariantCandidate& b) {
    const int ra = quant_quality_rank(a.quantization), rb = quant_quality_rank(b.quantization);
    if (ra != rb) return ra < rb;
    if (a.requantized != b.requantized) return !a.requantized;
    return a.memory.total() < b.memory.total();
  };
  for (const auto& c : candidates) {
    if (c.memory.total() > budget_bytes) continue;
    if (!best || better(c, *best)) best = &c;
  }
  return best;
}

const VariantCandidate* smallest_variant(std::span<const VariantCandidate> candidates) {
  const VariantCandidate* best = nullptr;
  for (const auto& c : candidates) {
    if (!best || c.memory.total() < best->memory.total()) best = &c;
  }
  return best;
}

std::vector<VariantCandidate> installed_variants(const std::string& path, const std::string& model_dir,
                                                 const SchedulerOptions& options, std::vector<std::string>* paths) {
  namespace fs = std::filesystem;
  auto self = model::GgufFile::open(path);
  const auto shape = shape_of(*self);
  const std::string self_name = fs::path(path).stem().string();
  const std::string stem = ascii_lower(variant_stem(self_name));
  std::vector<VariantCandidate> out;
  auto add = [&](const model::GgufFile& f, const std::string& name, const std::string& file_path) {
    out.push_back({name, ascii_lower(quantization_name(f)), false, estimate_model_memory(f, options)});
    if (paths) paths->push_back(file_path);
  };
  add(*self, self_name, path);
  if (!shape) return out;
  std::error_code ec;
  for (const auto& m : list_installed_models(model_dir)) {
    if (!m.error.empty() || ascii_lower(variant_stem(m.name)) != stem) continue;
    if (fs::equivalent(m.path, path, ec)) continue;
    try {
      auto f = model::GgufFile::open(m.path);
      if (shape_of(*f) == shape) add(*f, m.name, m.path);
    } catch (const Error&) {
      continue;  // an unreadable file is no variant
    }
  }
  return out;
}

BudgetFit fit_to_budget(const std::string& path, const std::string& model_dir, uint64_t budget_bytes,
                        std::string_view budget_text, uint64_t reserved_bytes, const SchedulerOptions& options) {
  std::vector<std::string> paths;
  const auto variants = installed_variants(path, model_dir, options, &paths);
  const uint64_t room = budget_bytes > reserved_bytes ? budget_bytes - reserved_bytes : 0;
  const auto& requested = variants.front();
  if (requested.memory.total() <= room) return {path, requested.name, requested.memory, false};
  if (const auto* pick = choose_variant(variants, room)) {
    const size_t i = static_cast<size_t>(pick - variants.data());
    return {paths[i], pick->name, pick->memory, true};
  }
  std::string tried;
  for (const auto& v : variants) {
    tried += fmt::format("{}{} needs {}", tried.empty() ? "" : "; ", v.name, v.memory.describe());
  }
  const std::string reserved =
      reserved_bytes ? fmt::format(", of which {} go to the embedding model", human_bytes(reserved_bytes)) : "";
  fail("model {} does not fit the memory budget of {}{}: {}. Make a smaller variant with "
       "'ragd pull {} --max-memory {}M', or lower --max-kv-cache-size / --ctx-size / --max-batch-tokens",
       requested.name, budget_text, reserved, tried, variant_stem(requested.name), budget_bytes >> 20);
}

}  // namespace ragd::engine
