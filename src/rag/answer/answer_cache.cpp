#include "rag/answer/answer_cache.h"

#include <cmath>
#include <iterator>

namespace ragd::rag {
namespace {

bool is_space(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }
bool is_trailing_punct(unsigned char c) {
  return c == '?' || c == '!' || c == '.' || c == ',' || c == ';' || c == ':';
}

std::string scope_of(const AnswerKey& key) {
  // Length-prefixed, so no collection/settings pair can alias another.
  return std::to_string(key.collection.size()) + ":" + key.collection + "|" + key.settings;
}

std::vector<float> unit(std::span<const float> v) {
  double norm = 0;
  for (float x : v) norm += static_cast<double>(x) * x;
  if (norm <= 0 || !std::isfinite(norm)) return {};  // unusable for similarity
  const double inv = 1.0 / std::sqrt(norm);
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = static_cast<float>(v[i] * inv);
  return out;
}

double dot(std::span<const float> a, std::span<const float> b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

}  // namespace

std::string normalize_question(std::string_view question) {
  std::string out;
  out.reserve(question.size());
  bool pending_space = false;
  for (unsigned char c : question) {
    if (is_space(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    // Only ASCII is folded: bytes of multi-byte UTF-8 sequences are >= 0x80 and untouched.
    out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : static_cast<char>(c));
  }
  while (!out.empty() && (is_trailing_punct(out.back()) || is_space(out.back()))) out.pop_back();
  return out;
}

AnswerCache::AnswerCache(AnswerCacheOptions options) : options_(options) {}

void AnswerCache::erase(Iter it) {
  exact_.erase(it->exact_key);
  lru_.erase(it);
}

std::optional<AnswerHit> AnswerCache::lookup(const AnswerKey& key, std::span<const float> embedding) {
  if (options_.capacity == 0) return std::nullopt;
  const std::string scope = scope_of(key);
  const std::string exact_key = scope + "\n" + normalize_question(key.question);
  const std::vector<float> query = unit(embedding);

  std::lock_guard lock(mu_);
  if (auto it = exact_.find(exact_key); it != exact_.end()) {
    if (it->second->content_version == key.content_version) {
      ++stats_.exact_hits;
      lru_.splice(lru_.begin(), lru_, it->second);
      const Entry& e = *it->second;
      return AnswerHit{AnswerHitKind::Exact, 1.0, e.question, e.value};
    }
    ++stats_.invalidated;
    erase(it->second);
  }
  if (!query.empty() && options_.semantic_threshold <= 1.0) {
    Iter best = lru_.end();
    double best_sim = -2;
    for (auto it = lru_.begin(); it != lru_.end();) {
      if (it->scope != scope) {
        ++it;
        continue;
      }
      if (it->content_version != key.content_version) {
        ++stats_.invalidated;
        erase(it++);
        continue;
      }
      if (it->embedding.size() == query.size()) {
        const double sim = dot(it->embedding, query);
        if (sim > best_sim) {
          best_sim = sim;
          best = it;
        }
      }
      ++it;
    }
    if (best != lru_.end() && best_sim >= options_.semantic_threshold) {
      ++stats_.semantic_hits;
      lru_.splice(lru_.begin(), lru_, best);
      return AnswerHit{AnswerHitKind::Semantic, best_sim, best->question, best->value};
    }
  }
  ++stats_.misses;
  return std::nullopt;
}

void AnswerCache::insert(const AnswerKey& key, std::span<const float> embedding, CachedAnswer value) {
  if (options_.capacity == 0) return;
  Entry entry;
  entry.scope = scope_of(key);
  entry.exact_key = entry.scope + "\n" + normalize_question(key.question);
  entry.question = key.question;
  entry.content_version = key.content_version;
  entry.embedding = unit(embedding);
  entry.value = std::move(value);

  std::lock_guard lock(mu_);
  if (auto it = exact_.find(entry.exact_key); it != exact_.end()) erase(it->second);
  if (lru_.size() >= options_.capacity) {
    erase(std::prev(lru_.end()));
    ++stats_.evicted;
  }
  lru_.push_front(std::move(entry));
  exact_.emplace(lru_.front().exact_key, lru_.begin());
}

void AnswerCache::clear() {
  std::lock_guard lock(mu_);
  lru_.clear();
  exact_.clear();
}

AnswerCacheStats AnswerCache::stats() const {
  std::lock_guard lock(mu_);
  AnswerCacheStats s = stats_;
  s.size = lru_.size();
  return s;
}

}  // namespace ragd::rag
