// The reranking stage: given the query and the best candidates (with their text), assign
// new scores. A cross-encoder will implement it; until one is configured the stage is a
// no-op (Retriever skips it when it has no Reranker).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ragd::rag {

struct RerankCandidate {
  int64_t id = 0;
  std::string_view text;  // valid for the duration of rerank()
  double score = 0;       // the first-stage score; rerank() overwrites it
};

class Reranker {
 public:
  virtual ~Reranker() = default;
  virtual std::string name() const = 0;
  // Sets each candidate's score (higher is better); the caller re-sorts.
  virtual void rerank(std::string_view query, std::vector<RerankCandidate>& candidates) = 0;
};

// Leaves scores as they are. Useful to exercise the stage and as an explicit "none".
class NoopReranker : public Reranker {
 public:
  std::string name() const override { return "none"; }
  void rerank(std::string_view, std::vector<RerankCandidate>&) override {}
};

}  // namespace ragd::rag
