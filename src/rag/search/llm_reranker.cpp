#include "rag/search/llm_reranker.h"

#include <algorithm>
#include <filesystem>
#include <limits>

#include "model/chat_template.h"
#include "util/error.h"

namespace ragd::rag {
namespace {

constexpr size_t kBlockTokens = 16;
constexpr const char* kSystem =
    "You judge search results. Given a question and a passage, reply with only yes if the "
    "passage answers the question or contains the information it asks for, otherwise no.";

// Ids of the spellings that the vocabulary holds as a single token.
std::vector<int32_t> single_token_ids(const model::Tokenizer& tok, std::initializer_list<const char*> words) {
  std::vector<int32_t> ids;
  for (const char* w : words) {
    auto enc = tok.encode(w, /*add_special=*/false, /*parse_special=*/false);
    if (enc.size() == 1 && std::find(ids.begin(), ids.end(), enc[0]) == ids.end()) ids.push_back(enc[0]);
  }
  return ids;
}

double best_logit(const float* row, const std::vector<int32_t>& ids) {
  double best = -std::numeric_limits<double>::infinity();
  for (int32_t id : ids) best = std::max(best, static_cast<double>(row[id]));
  return best;
}

}  // namespace

std::unique_ptr<LlmReranker> LlmReranker::open(const std::string& path, LlmRerankerOptions options) {
  return std::make_unique<LlmReranker>(engine::Llm::load(path, options.threads), options);
}

LlmReranker::LlmReranker(std::unique_ptr<engine::Llm> llm, LlmRerankerOptions options)
    : ScoringReranker(options.first_stage_weight), llm_(std::move(llm)), options_(options) {
  if (options_.batch_tokens < 1024) fail("the LLM reranker's batch_tokens must be at least 1024");
  std::string model_name(llm_->file->get_string("general.name", ""));
  if (model_name.empty()) model_name = std::filesystem::path(llm_->file->path()).stem().string();
  name_ = "llm:" + model_name;
  template_ = model::chat_template_for(*llm_->file);
  yes_ids_ = single_token_ids(*llm_->tokenizer, {"yes", "Yes"});
  no_ids_ = single_token_ids(*llm_->tokenizer, {"no", "No"});
  if (yes_ids_.empty() || no_ids_.empty()) {
    fail("{} cannot rerank: its vocabulary has no single-token \"yes\" and \"no\"", name_);
  }
  cache_ = llm_->model->make_cache(kBlockTokens, options_.batch_tokens / kBlockTokens + 64);
}

std::string LlmReranker::truncate(std::string_view text, size_t max_tokens) const {
  auto ids = llm_->tokenizer->encode(text, /*add_special=*/false, /*parse_special=*/false);
  if (ids.size() <= max_tokens) return std::string(text);
  ids.resize(max_tokens);
  return llm_->tokenizer->decode(ids);
}

std::vector<int32_t> LlmReranker::prompt_tokens(std::string_view query, std::string_view passage) const {
  std::string user = "Question: " + truncate(query, options_.max_query_tokens) + "\n\nPassage: " +
                     truncate(passage, options_.max_passage_tokens) +
                     "\n\nDoes the passage answer the question? Answer yes or no.";
  std::vector<model::ChatMessage> messages{{"system", kSystem}, {"user", std::move(user)}};
  return model::tokenize_chat(*llm_->tokenizer, template_, messages, /*add_generation_prompt=*/true);
}

void LlmReranker::score_batch(const std::vector<std::vector<int32_t>>& prompts, size_t first, size_t last,
                              std::vector<double>& out) {
  std::vector<std::vector<uint32_t>> tables(last - first);
  std::vector<model::SequenceBatch> batch;
  uint32_t next_block = 0;
  for (size_t i = first; i < last; ++i) {
    auto& table = tables[i - first];
    const size_t blocks = (prompts[i].size() + kBlockTokens - 1) / kBlockTokens;
    for (size_t b = 0; b < blocks; ++b) table.push_back(next_block++);
    batch.push_back(model::SequenceBatch{prompts[i], 0, table, false});
  }
  llm_->model->forward(batch, *cache_, logits_);
  const size_t n_vocab = llm_->model->config().n_vocab;
  for (size_t i = first; i < last; ++i) {
    const float* row = logits_.data() + (i - first) * n_vocab;
    out[i] = best_logit(row, yes_ids_) - best_logit(row, no_ids_);
  }
}

std::vector<double> LlmReranker::score(std::string_view query, std::span<const std::string_view> texts) {
  std::vector<std::vector<int32_t>> prompts;
  for (auto text : texts) prompts.push_back(prompt_tokens(query, text));
  std::vector<double> out(texts.size(), 0.0);
  std::lock_guard lock(mutex_);
  // Greedy packing in order: a pass holds at most batch_tokens tokens and fits the cache.
  size_t first = 0;
  while (first < prompts.size()) {
    size_t last = first, tokens = 0, blocks = 0;
    while (last < prompts.size()) {
      const size_t t = prompts[last].size(), b = (t + kBlockTokens - 1) / kBlockTokens;
      if (last > first && (tokens + t > options_.batch_tokens || blocks + b > cache_->n_blocks())) break;
      tokens += t;
      blocks += b;
      ++last;
    }
    score_batch(prompts, first, last, out);
    first = last;
  }
  return out;
}

}  // namespace ragd::rag
