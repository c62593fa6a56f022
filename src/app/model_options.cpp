#include "app/model_options.h"

#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>

#include "engine/model_catalog.h"
#include "engine/model_store.h"
#include "util/error.h"
#include "util/log.h"

namespace ragd::app {

namespace fs = std::filesystem;

std::string default_model_dir() {
  const char* env = std::getenv("RAGD_MODEL_DIR");
  return env && *env ? env : "models";
}

void ModelOptions::add_to(CLI::App& sub) {
  sub.add_option("-m,--model", model,
                 "GGUF file or installed model name, e.g. SmolLM2-135M-Instruct.Q4_1 or fast "
                 "(default: the catalog's default model in $RAGD_MODEL_DIR or ./models; see 'ragd models')");
  sub.add_option("-t,--threads", threads, "Compute threads (0 = all cores)")->capture_default_str();
  sub.add_option("-c,--ctx-size", ctx_size, "Context size in tokens")->capture_default_str()->check(CLI::Range(16, 1 << 20));
}

std::string ModelOptions::resolve() const {
  const std::string dir = default_model_dir();
  return model.empty() ? default_llm_path(dir) : resolve_model(model, dir);
}

std::string resolve_model(const std::string& arg, const std::string& dir) {
  std::error_code ec;
  if (fs::is_regular_file(arg, ec)) return arg;
  if (arg.empty()) fail("an empty model name was given");
  const bool looks_like_path = arg.find('/') != std::string::npos;
  if (!looks_like_path) {
    if (auto path = engine::find_installed_model(dir, arg)) return *path;
    if (const auto* m = engine::ModelCatalog::builtin().find(arg)) {
      if (auto path = engine::find_installed_model(dir, m->name)) return *path;
      fail("model '{}' ({}, {:.0f} MiB) is not installed in {}; run 'ragd pull {}'", arg, m->name,
           m->bytes / 1048576.0, dir, arg);
    }
  }
  std::vector<std::string> installed;
  for (const auto& m : engine::list_installed_models(dir)) installed.push_back(m.name);
  fail("{}: no such {}. Installed models in {}: {}. Catalog (ragd pull NAME): {}",
       arg, looks_like_path ? "file" : "file, installed model or catalog model", dir,
       installed.empty() ? "none" : fmt::format("{}", fmt::join(installed, ", ")),
       engine::ModelCatalog::builtin().describe_names());
}

std::string default_llm_path(const std::string& dir) {
  const auto& catalog = engine::ModelCatalog::builtin();
  const auto* preferred = catalog.find("default");
  const auto* fallback = catalog.find("fast");
  if (preferred) {
    if (auto path = engine::find_installed_model(dir, preferred->name)) return *path;
  }
  if (fallback) {
    if (auto path = engine::find_installed_model(dir, fallback->name)) {
      if (preferred) {
        log::warn("the default model {} is not installed in {}; using the fast model {} "
                  "(install the default with 'ragd pull default')",
                  preferred->name, dir, fallback->name);
      }
      return *path;
    }
  }
  fail("no --model given and no default model is installed in {}; run 'make models' (or "
       "'ragd pull default')",
       dir);
}

void SamplingOptions::add_to(CLI::App& sub) {
  auto& p = params;
  sub.add_option("--temperature,--temp", p.temperature, "Sampling temperature (0 = greedy)")->capture_default_str();
  sub.add_option("--top-k", p.top_k, "Keep the k most likely tokens (0 = off)")->capture_default_str();
  sub.add_option("--top-p", p.top_p, "Nucleus sampling mass (1 = off)")->capture_default_str();
  sub.add_option("--min-p", p.min_p, "Drop tokens below min-p x the best probability (0 = off)")->capture_default_str();
  sub.add_option("--repeat-penalty", p.repeat_penalty, "Penalty for recently seen tokens (1 = off)")->capture_default_str();
  sub.add_option("--repeat-last-n", p.repeat_last_n, "Window of the penalties (-1 = all)")->capture_default_str();
  sub.add_option("--frequency-penalty", p.frequency_penalty, "OpenAI frequency penalty")->capture_default_str();
  sub.add_option("--presence-penalty", p.presence_penalty, "OpenAI presence penalty")->capture_default_str();
  sub.add_option("--seed", p.seed, "Random seed")->capture_default_str();
}

}  // namespace ragd::app
