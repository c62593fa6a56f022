#include "app/model_options.h"

#include <cstdlib>
#include <filesystem>

#include "util/error.h"

namespace ragd::app {

std::string default_model_dir() {
  const char* env = std::getenv("RAGD_MODEL_DIR");
  return env && *env ? env : "models";
}

void ModelOptions::add_to(CLI::App& sub) {
  sub.add_option("-m,--model", model, "GGUF model file (default: the default model in $RAGD_MODEL_DIR or ./models)");
  sub.add_option("-t,--threads", threads, "Compute threads (0 = all cores)")->capture_default_str();
  sub.add_option("-c,--ctx-size", ctx_size, "Context size in tokens")->capture_default_str()->check(CLI::Range(16, 1 << 20));
}

std::string ModelOptions::resolve() const {
  if (!model.empty()) return model;
  auto path = std::filesystem::path(default_model_dir()) / kDefaultLlm;
  if (!std::filesystem::exists(path)) {
    fail("no --model given and the default model {} is missing; run 'make models' (or "
         "scripts/fetch-models) first",
         path.string());
  }
  return path.string();
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
