// `ragd pull --max-memory`: the variant choice and local requantization (see model_pull.h).
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "app/model_pull.h"
#include "app/progress_bar.h"
#include "engine/model_memory.h"
#include "engine/model_store.h"
#include "engine/model_variants.h"
#include "model/quantize_model.h"
#include "util/error.h"
#include "util/text.h"

namespace ragd::app {
namespace {

namespace fs = std::filesystem;

// The family's pinned variants, best quality first.
std::vector<const engine::CatalogModel*> family_of(const engine::ModelCatalog& catalog,
                                                   const engine::CatalogModel& model) {
  std::vector<const engine::CatalogModel*> out;
  for (const auto& m : catalog.models()) {
    if (ascii_lower(m.family) == ascii_lower(model.family)) out.push_back(&m);
  }
  std::stable_sort(out.begin(), out.end(), [](const auto* a, const auto* b) {
    return engine::quant_quality_rank(a->quantization) < engine::quant_quality_rank(b->quantization);
  });
  return out;
}

// A pinned file already in `dir` at its pinned size (pull_model checks the hash).
bool present(const engine::CatalogModel& m, const fs::path& dir) {
  std::error_code ec;
  const fs::path p = dir / m.file_name();
  return fs::is_regular_file(p, ec) && fs::file_size(p, ec) == m.bytes;
}

// The pinned file the estimates are read from and a requantized variant is made from: the
// best one already installed, else the best whose file alone is within the budget, else
// the best of all (the best source for requantizing).
const engine::CatalogModel& source_of(const std::vector<const engine::CatalogModel*>& family,
                                      const fs::path& dir, uint64_t budget) {
  for (const auto* m : family) {
    if (present(*m, dir)) return *m;
  }
  for (const auto* m : family) {
    if (m->bytes <= budget) return *m;
  }
  return *family.front();
}

// A variant made earlier from the same model: same quantization and shape.
bool made_before(const fs::path& out, const model::GgufFile& source, const model::QuantTarget& target) {
  std::error_code ec;
  if (!fs::is_regular_file(out, ec)) return false;
  try {
    auto f = model::GgufFile::open(out.string());
    return ascii_lower(engine::quantization_name(*f)) == target.name && f->architecture() == source.architecture() &&
           f->tensors().size() == source.tensors().size();
  } catch (const Error&) {
    return false;  // unreadable: made again
  }
}

std::string requantize(const std::string& source_path, const fs::path& out, const model::QuantTarget& target,
                       bool progress) {
  model::QuantizeOptions qo;
  qo.target = target;
  ProgressBar bar(progress);
  qo.progress = bar.callback();
  model::QuantizeReport r;
  try {
    r = model::quantize_model(source_path, out.string(), qo);
  } catch (...) {
    bar.finish();
    throw;
  }
  bar.finish();
  if (progress) print_notes(r.notes, 4);
  return fmt::format("{} -> {} of tensor data in {:.1f} s", format_bytes(r.bytes_in), format_bytes(r.bytes_out),
                     r.seconds);
}

}  // namespace

std::string pull_within_budget(const engine::ModelCatalog& catalog, const engine::CatalogModel& model,
                               const PullOptions& o, const MemoryBudget& budget,
                               const engine::SchedulerOptions& serving) {
  const fs::path dir(o.dir);
  const auto family = family_of(catalog, model);
  const engine::CatalogModel& source = source_of(family, dir, budget.bytes);
  const std::string source_path = pull_model(source, o);
  const auto header = model::GgufFile::open(source_path);

  // Pinned variants share the source's shape: their KV cache and compute are the same and
  // their weights are their pinned file sizes.
  std::vector<engine::VariantCandidate> candidates;
  const engine::MemoryEstimate shared = engine::estimate_model_memory(*header, serving);
  for (const auto* m : family) {
    engine::MemoryEstimate e = shared;
    e.weights_bytes = m->bytes;
    candidates.push_back({m->name, ascii_lower(m->quantization), false, e});
  }
  const std::string stem = engine::variant_stem(source.name);
  const auto targets = engine::requant_targets_below(source.quantization);
  for (const auto& t : targets) {
    candidates.push_back({engine::variant_name(stem, t.name), t.name, true,
                          engine::estimate_model_memory(*header, serving, &t)});
  }
  fmt::print(stderr, "pull: memory budget {}\n", budget.describe());
  const auto* pick = engine::choose_variant(candidates, budget.bytes);
  if (!pick) {
    const auto* least = engine::smallest_variant(candidates);
    fail("no variant of {} fits the memory budget of {}: the smallest, {} ({}{}), needs {}. Raise "
         "--max-memory, or lower --max-kv-cache-size / --ctx-size (the serving settings the estimate "
         "assumes). {} stays installed",
         model.family, budget.describe(), least->name, least->quantization,
         least->requantized ? ", requantized locally" : "", least->memory.describe(), source_path);
  }
  const int pick_rank = engine::quant_quality_rank(pick->quantization);
  for (const auto& c : candidates) {
    if (c.memory.total() > budget.bytes && engine::quant_quality_rank(c.quantization) <= pick_rank) {
      fmt::print(stderr, "pull: {} would need {}: over the budget\n", c.name, c.memory.describe());
    }
  }
  fmt::print(stderr, "pull: choosing {} ({}{}): needs {}\n", pick->name, pick->quantization,
             pick->requantized ? ", requantized locally" : "", pick->memory.describe());
  if (!pick->requantized) {
    if (pick->name == source.name) return source_path;
    return pull_model(*catalog.find(pick->name), o);
  }
  const model::QuantTarget* target = nullptr;
  for (const auto& t : targets) {
    if (t.name == pick->quantization) target = &t;
  }
  const fs::path out = dir / (pick->name + ".gguf");
  if (!o.force && made_before(out, *header, *target)) {
    fmt::print(stderr, "pull: {} is already installed ({})\n", pick->name, out.string());
    return out.string();
  }
  fmt::print(stderr, "pull: requantizing {} to {} (ragd quantize's rules)\n", source.name, target->name);
  const std::string summary = requantize(source_path, out, *target, o.progress);
  fmt::print(stderr,
             "pull: installed {} as {} ({}), made locally from {}, which stays installed "
             "('ragd rm {}' frees {})\n",
             pick->name, out.string(), summary, source.name, source.name, format_bytes(source.bytes));
  return out.string();
}

}  // namespace ragd::app
