#include "engine/embedding_service.h"

#include <algorithm>
#include <numeric>
#include <unordered_map>

#include "util/error.h"
#include "util/log.h"
#include "util/timing.h"

namespace ragd::engine {

std::shared_ptr<EmbeddingService> EmbeddingService::open(const std::string& path,
                                                         const EmbeddingServiceOptions& options) {
  std::shared_ptr<const model::GgufFile> file = model::GgufFile::open(path);
  return std::make_shared<EmbeddingService>(std::move(file), options);
}

EmbeddingService::EmbeddingService(std::shared_ptr<const model::GgufFile> file,
                                   const EmbeddingServiceOptions& options)
    : file_(std::move(file)), pool_(options.threads) {
  model_ = std::make_unique<model::BertModel>(file_, pool_, options.precision);
  tokenizer_ = model::Tokenizer::from_gguf(*file_);
  if (tokenizer_->kind() != model::VocabKind::WordPiece) {
    fail("'{}': a BERT embedding model needs a WordPiece (\"bert\") vocabulary", file_->path());
  }
  if (tokenizer_->vocab_size() != model_->config().n_vocab) {
    fail("'{}': the vocabulary has {} tokens but token_embd {} rows", file_->path(),
         tokenizer_->vocab_size(), model_->config().n_vocab);
  }
  cache_ = options.cache ? options.cache : std::make_shared<EmbeddingCache>(options.cache_capacity);
  name_ = model_->config().name.empty() ? file_->path() : model_->config().name;
  model_id_ = name_ + "/" + std::string(kernels::type_name(model_->weight_type()));
  max_tokens_ = model_->config().n_ctx;
  if (options.max_tokens > 0) max_tokens_ = std::min(max_tokens_, options.max_tokens);
  if (max_tokens_ < 2) fail("embedding: max_tokens must be at least 2 ([CLS] and [SEP])");
  max_batch_tokens_ = std::max<size_t>(1, options.max_batch_tokens);
}

EmbeddingService::~EmbeddingService() = default;

std::vector<int32_t> EmbeddingService::tokenize(std::string_view text, bool* truncated) const {
  std::vector<int32_t> ids = tokenizer_->encode(text, /*add_special=*/true, /*parse_special=*/false);
  const bool cut = ids.size() > max_tokens_;
  if (cut) {
    // Keep [CLS] + the first max - 2 word pieces + [SEP], like Hugging Face truncation.
    const int32_t last = ids.back();
    ids.resize(max_tokens_);
    if (tokenizer_->sep_id() >= 0 && last == tokenizer_->sep_id()) ids.back() = last;
  }
  if (truncated) *truncated = cut;
  return ids;
}

std::vector<float> EmbeddingService::embed(std::string_view text) {
  const std::string s(text);
  return std::move(embed(std::span<const std::string>(&s, 1)).front());
}

std::vector<std::vector<float>> EmbeddingService::embed(std::span<const std::string> texts) {
  std::vector<std::vector<float>> out(texts.size());
  // Uncached texts, each computed once even when it repeats within the call.
  Job job;
  std::vector<std::vector<size_t>> targets;  // job sequence → indices into out
  std::unordered_map<std::string_view, size_t> slot_of;
  uint64_t hits = 0, truncated = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    if (auto v = cache_->get(model_id_, texts[i])) {
      out[i] = std::move(*v);
      ++hits;
      continue;
    }
    auto [it, fresh] = slot_of.emplace(texts[i], job.sequences.size());
    if (!fresh) {
      targets[it->second].push_back(i);
      continue;
    }
    bool cut = false;
    job.sequences.push_back(tokenize(texts[i], &cut));
    targets.push_back({i});
    truncated += cut;
  }
  if (truncated > 0) {
    std::lock_guard lock(mu_);
    if (!warned_truncation_) {
      warned_truncation_ = true;
      log::warn("embedding: texts longer than {} tokens are truncated to {} (the model's limit); "
                "split long documents into smaller chunks to embed all of their text",
                max_tokens_, max_tokens_);
    }
  }
  if (!job.sequences.empty()) submit(job);
  if (!job.error.empty()) throw Error(job.error);
  for (size_t j = 0; j < targets.size(); ++j) {
    cache_->put(model_id_, texts[targets[j].front()], job.vectors[j]);
    for (size_t k = 1; k < targets[j].size(); ++k) out[targets[j][k]] = job.vectors[j];
    out[targets[j].front()] = std::move(job.vectors[j]);
  }
  std::lock_guard lock(mu_);
  stats_.texts += texts.size();
  stats_.cache_hits += hits;
  stats_.truncated += truncated;
  return out;
}

// Flat combining: queue the job; whoever finds no leader runs every queued job, then wakes
// the waiters. A caller returns as soon as its own job is done.
void EmbeddingService::submit(Job& job) {
  std::unique_lock lock(mu_);
  queue_.push_back(&job);
  while (!job.done) {
    if (leader_active_) {
      cv_.wait(lock);
      continue;
    }
    leader_active_ = true;
    std::vector<Job*> jobs(queue_.begin(), queue_.end());
    queue_.clear();
    lock.unlock();
    run_jobs(jobs);
    lock.lock();
    for (Job* j : jobs) j->done = true;
    leader_active_ = false;
    cv_.notify_all();
  }
}

// Runs the sequences of `jobs` through the model in length-sorted batches. Called by the
// leader only, without mu_ held (except to update the statistics). Never throws: an error
// is stored in every job of the failed call.
void EmbeddingService::run_jobs(std::span<Job* const> jobs) {
  struct Item {
    Job* job;
    size_t index;
    size_t length;
  };
  std::vector<Item> items;
  for (Job* j : jobs) {
    j->vectors.assign(j->sequences.size(), {});
    for (size_t i = 0; i < j->sequences.size(); ++i) items.push_back({j, i, j->sequences[i].size()});
  }
  std::stable_sort(items.begin(), items.end(),
                   [](const Item& a, const Item& b) { return a.length < b.length; });
  const size_t dim = model_->dim();
  std::vector<std::span<const int32_t>> batch;
  std::vector<float> vectors;
  uint64_t batches = 0, tokens = 0;
  Stopwatch watch;
  try {
    for (size_t first = 0; first < items.size();) {
      size_t last = first, n_tokens = 0;
      // At least one sequence per pass, then as many as fit in max_batch_tokens_.
      while (last < items.size() && (last == first || n_tokens + items[last].length <= max_batch_tokens_)) {
        n_tokens += items[last++].length;
      }
      batch.clear();
      for (size_t k = first; k < last; ++k) batch.push_back(items[k].job->sequences[items[k].index]);
      vectors.resize(batch.size() * dim);
      model_->embed(batch, vectors.data());
      for (size_t k = first; k < last; ++k) {
        const float* v = &vectors[(k - first) * dim];
        items[k].job->vectors[items[k].index].assign(v, v + dim);
      }
      ++batches;
      tokens += n_tokens;
      first = last;
    }
  } catch (const std::exception& e) {
    for (Job* j : jobs) j->error = fmt::format("embedding failed: {}", e.what());
  }
  std::lock_guard lock(mu_);
  stats_.computed += items.size();
  stats_.batches += batches;
  stats_.tokens += tokens;
  stats_.compute_seconds += watch.seconds();
}

EmbeddingStats EmbeddingService::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace ragd::engine
