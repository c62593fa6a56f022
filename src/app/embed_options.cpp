#include "app/embed_options.h"

#include <filesystem>

#include "app/model_options.h"
#include "util/error.h"

namespace ragd::app {

void EmbedModelOptions::add_to(CLI::App& sub) {
  sub.add_option("-m,--model", model,
                 std::string("BERT GGUF embedding model (default: ") + kDefaultEmbedder +
                     " in $RAGD_MODEL_DIR or ./models)");
  sub.add_option("-t,--threads", service.threads, "Compute threads (0 = all cores)")
      ->capture_default_str();
  sub.add_option("--batch-tokens", service.max_batch_tokens, "Tokens per forward pass")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{1} << 20));
  sub.add_option("--max-tokens", service.max_tokens,
                 "Truncate texts to this many tokens (0 = the model's limit, 512 for BERT)")
      ->capture_default_str();
  sub.add_option("--cache", service.cache_capacity, "Embedding cache entries (0 = off)")
      ->capture_default_str();
}

std::string EmbedModelOptions::resolve() const {
  if (!model.empty()) return resolve_model(model);
  auto path = std::filesystem::path(default_model_dir()) / kDefaultEmbedder;
  if (!std::filesystem::exists(path)) {
    fail("no --model given and the default embedder {} is missing; run 'make' (it fetches "
         "and converts it) or scripts/fetch-models then scripts/convert-embedder BUILD_DIR",
         path.string());
  }
  return path.string();
}

}  // namespace ragd::app
