// Text → vector. The neural embedding model (model/, all-MiniLM-L6-v2 or bge-small,
// 384 dimensions) implements this; retrieval only depends on the interface, so dense and
// hybrid search work with any implementation (tests use a deterministic toy one).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace ragd::rag {

class Embedder {
 public:
  virtual ~Embedder() = default;
  // Recorded with stored vectors; vectors from different models are never mixed.
  virtual std::string name() const = 0;
  virtual size_t dim() const = 0;
  // Models such as bge and e5 embed queries and passages differently, hence two calls.
  virtual std::vector<float> embed_query(std::string_view text) = 0;
  virtual std::vector<std::vector<float>> embed_passages(const std::vector<std::string>& texts) = 0;
};

}  // namespace ragd::rag
