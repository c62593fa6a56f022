#include "rag/search/model_embedder.h"

namespace ragd::rag {

std::unique_ptr<ModelEmbedder> ModelEmbedder::open(const std::string& path,
                                                   const engine::EmbeddingServiceOptions& options,
                                                   std::string query_prefix) {
  return std::make_unique<ModelEmbedder>(engine::EmbeddingService::open(path, options),
                                         std::move(query_prefix));
}

std::vector<float> ModelEmbedder::embed_query(std::string_view text) {
  if (query_prefix_.empty()) return service_->embed(text);
  return service_->embed(query_prefix_ + std::string(text));
}

size_t ModelEmbedder::count_tokens(std::string_view text) const {
  return service_->tokenizer().encode(text, /*add_special=*/false, /*parse_special=*/false).size();
}

std::vector<std::vector<float>> ModelEmbedder::embed_passages(const std::vector<std::string>& texts) {
  return service_->embed(texts);
}

}  // namespace ragd::rag
