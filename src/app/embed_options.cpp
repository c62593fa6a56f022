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
  add_embed_precision_option(sub, service);
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

void add_embed_precision_option(CLI::App& sub, engine::EmbeddingServiceOptions& service) {
  // `service` belongs to the command's options, which outlive parsing.
  sub.add_option_function<std::string>(
         "--embed-precision",
         [&service](const std::string& v) { service.precision = model::bert_precision_from_name(v); },
         "Embedding model's linear layers: int8 (weights quantized to Q8_0 at load) or f32 "
         "(the file's weights as stored)")
      ->check(CLI::IsMember({"f32", "int8"}))
      ->type_name("f32|int8")
      ->default_str(std::string(model::bert_precision_name(service.precision)));
}

}  // namespace ragd::app
