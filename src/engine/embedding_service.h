// EmbeddingService: text → sentence embedding with a BERT encoder (model/bert_model.h),
// shared by every caller of a process (ingestion, queries, the HTTP API).
//
// - Cache: an LRU keyed by (model id, text) (engine/embedding_cache.h), 10,000 entries by
//   default; hits skip tokenization and compute.
// - Truncation: a text longer than max_tokens() tokens (the model's 512 positions unless
//   configured lower) keeps its first max_tokens() - 1 tokens plus [SEP], as Hugging Face's
//   truncation does; the first truncation is logged as a warning, all are counted.
// - Batching: the texts of one call, and of all calls that arrive while a forward pass is
//   running, are sorted by token count and packed into forward passes of at most
//   max_batch_tokens tokens. BertModel stacks sequences without padding, so sorting only
//   keeps batches of similar lengths together (cheaper attention scratch, fairer latency).
// - Threads: embed() may be called from any number of threads. Callers tokenize in their
//   own thread and queue their sequences; whichever caller finds no forward pass running
//   becomes the leader and runs everything queued (flat combining), the others wait for
//   their results. Only one forward pass runs at a time (it uses every pool thread).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/embedding_cache.h"
#include "kernels/thread_pool.h"
#include "model/bert_model.h"
#include "model/gguf.h"
#include "model/tokenizer.h"

namespace ragd::engine {

struct EmbeddingServiceOptions {
  size_t threads = 0;              // compute threads; 0: all cores
  size_t max_batch_tokens = 4096;  // tokens per forward pass (a longer text runs alone)
  size_t max_tokens = 0;           // truncation length; 0: the model's positions (512)
  size_t cache_capacity = 10000;   // entries; 0 disables the cache
  // Linear layers in int8 (Q8_0 weights quantized at load) or as the file stores them
  // (model/bert_precision.h). Int8 is the default: SciFact dense nDCG@10 0.6537 vs f32's
  // 0.6531, at 1.5x the chunks per CPU-second (docs/benchmarks.md, "Embedding throughput").
  model::BertPrecision precision = model::BertPrecision::Int8;
  std::shared_ptr<EmbeddingCache> cache;  // share a cache across services (else own one)
};

struct EmbeddingStats {
  uint64_t texts = 0;       // texts asked for
  uint64_t cache_hits = 0;  // of which served from the cache
  uint64_t computed = 0;    // sequences run through the model
  uint64_t truncated = 0;   // of which were cut to max_tokens()
  uint64_t batches = 0;     // forward passes
  uint64_t tokens = 0;      // tokens through the model
  double compute_seconds = 0;
};

class EmbeddingService {
 public:
  // Opens a BERT GGUF file. Throws ragd::Error when it is not one ragd can run.
  static std::shared_ptr<EmbeddingService> open(const std::string& path,
                                                const EmbeddingServiceOptions& options = {});
  EmbeddingService(std::shared_ptr<const model::GgufFile> file,
                   const EmbeddingServiceOptions& options);
  ~EmbeddingService();

  // general.name (e.g. "all-MiniLM-L6-v2"), recorded with stored vectors.
  const std::string& name() const { return name_; }
  // name plus the type the weights are multiplied in, e.g. "all-MiniLM-L6-v2/f32" or
  // ".../q8_0" under int8: the cache key's model part, so int8 and f32 vectors never mix.
  const std::string& model_id() const { return model_id_; }
  size_t dim() const { return model_->dim(); }
  size_t max_tokens() const { return max_tokens_; }
  const model::BertConfig& config() const { return model_->config(); }

  // One unit vector of dim() floats per text, in order. Thread-safe.
  std::vector<std::vector<float>> embed(std::span<const std::string> texts);
  std::vector<float> embed(std::string_view text);

  // The ids a text is embedded from: [CLS] ... [SEP], truncated to max_tokens().
  std::vector<int32_t> tokenize(std::string_view text, bool* truncated = nullptr) const;

  EmbeddingStats stats() const;
  EmbeddingCache& cache() { return *cache_; }
  // The model's own tokenizer (thread-safe for encode), e.g. for chunkers that count tokens.
  const model::Tokenizer& tokenizer() const { return *tokenizer_; }

 private:
  // One caller's uncached sequences, queued for the leader.
  struct Job {
    std::vector<std::vector<int32_t>> sequences;
    std::vector<std::vector<float>> vectors;  // filled by the leader
    bool done = false;
    std::string error;  // set instead of vectors when the forward pass failed
  };
  void submit(Job& job);
  void run_jobs(std::span<Job* const> jobs);

  std::shared_ptr<const model::GgufFile> file_;
  kernels::ThreadPool pool_;
  std::unique_ptr<model::BertModel> model_;
  std::unique_ptr<model::Tokenizer> tokenizer_;
  std::shared_ptr<EmbeddingCache> cache_;
  std::string name_, model_id_;
  size_t max_tokens_ = 0;
  size_t max_batch_tokens_ = 0;

  mutable std::mutex mu_;  // guards everything below
  std::condition_variable cv_;
  std::deque<Job*> queue_;
  bool leader_active_ = false;
  EmbeddingStats stats_;
  bool warned_truncation_ = false;
};

}  // namespace ragd::engine
