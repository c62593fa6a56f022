// ModelEmbedder: the rag::Embedder of a neural embedding model, backed by the engine's
// EmbeddingService (BERT forward pass, batching, LRU cache, truncation).
//
// Queries may get an instruction prefix (bge models want "Represent this sentence for
// searching relevant passages: "); passages never do. all-MiniLM-L6-v2 needs none.
#pragma once

#include <memory>
#include <string>

#include "engine/embedding_service.h"
#include "rag/search/embedder.h"

namespace ragd::rag {

class ModelEmbedder final : public Embedder {
 public:
  explicit ModelEmbedder(std::shared_ptr<engine::EmbeddingService> service,
                         std::string query_prefix = "")
      : service_(std::move(service)), query_prefix_(std::move(query_prefix)) {}

  // Opens a BERT GGUF file with default service options.
  static std::unique_ptr<ModelEmbedder> open(const std::string& path,
                                             const engine::EmbeddingServiceOptions& options = {},
                                             std::string query_prefix = "");

  std::string name() const override { return service_->name(); }
  size_t dim() const override { return service_->dim(); }
  std::vector<float> embed_query(std::string_view text) override;
  std::vector<std::vector<float>> embed_passages(const std::vector<std::string>& texts) override;

  engine::EmbeddingService& service() { return *service_; }

  // Tokens of `text` under the model's tokenizer, without [CLS]/[SEP] and untruncated:
  // additive over words as the chunker's TokenCounter contract asks.
  size_t count_tokens(std::string_view text) const;
  // Positions one embedded text may use, [CLS] and [SEP] included (512 for MiniLM).
  size_t max_tokens() const { return service_->max_tokens(); }

 private:
  std::shared_ptr<engine::EmbeddingService> service_;
  std::string query_prefix_;
};

}  // namespace ragd::rag
