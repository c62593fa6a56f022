#include "rag/answer/answer_cache.h"

#include <chrono>
#include <cmath>

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

// The text an entry is stored as in a shared backend: {"q", "v", "e", "a", "c", "u"}.
std::string encode_entry(const std::string& question, uint64_t version, const std::vector<float>& embedding,
                         const CachedAnswer& value) {
  nlohmann::json j = {{"q", question},
                      {"v", version},
                      {"e", embedding},
                      {"a", value.answer},
                      {"c", value.citations},
                      {"u", {value.usage.prompt_tokens, value.usage.completion_tokens}}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string shared_key(const std::string& exact_key, uint64_t content_version) {
  return exact_key + "\n" + std::to_string(content_version);
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

AnswerCache::AnswerCache(AnswerCacheOptions options)
    : options_(std::move(options)), lru_(LruLimits{.max_entries = options_.capacity}) {}

std::optional<AnswerHit> AnswerCache::lookup_shared(const std::string& exact_key, const AnswerKey& key) {
  auto bytes = options_.shared->get(shared_key(exact_key, key.content_version));
  if (!bytes) return std::nullopt;
  auto j = nlohmann::json::parse(*bytes, nullptr, /*allow_exceptions=*/false);
  auto e = std::make_shared<Entry>();
  try {
    e->question = j.at("q").get<std::string>();
    e->content_version = j.at("v").get<uint64_t>();
    e->embedding = j.at("e").get<std::vector<float>>();
    e->value.answer = j.at("a").get<std::string>();
    e->value.citations = j.at("c");
    e->value.usage = {j.at("u").at(0).get<size_t>(), j.at("u").at(1).get<size_t>()};
  } catch (const nlohmann::json::exception&) {
    options_.shared->erase(shared_key(exact_key, key.content_version));  // foreign or corrupt
    return std::nullopt;
  }
  if (e->content_version != key.content_version) return std::nullopt;
  e->scope = scope_of(key);
  AnswerHit hit{AnswerHitKind::Exact, 1.0, e->question, e->value};
  lru_.put(exact_key, std::move(e));
  return hit;
}

std::optional<AnswerHit> AnswerCache::lookup(const AnswerKey& key, std::span<const float> embedding) {
  if (options_.capacity == 0) return std::nullopt;
  const std::string scope = scope_of(key);
  const std::string exact_key = scope + "\n" + normalize_question(key.question);

  bool rejected = false;
  auto local = lru_.get_if(
      exact_key, [&](const EntryPtr& e) { return e->content_version == key.content_version; }, &rejected);
  if (rejected) count(invalidated_);
  if (local) {
    count(exact_hits_);
    const Entry& e = **local;
    return AnswerHit{AnswerHitKind::Exact, 1.0, e.question, e.value};
  }
  if (options_.shared) {
    if (auto hit = lookup_shared(exact_key, key)) {
      count(exact_hits_);
      count(shared_hits_);
      return hit;
    }
  }
  const std::vector<float> query = unit(embedding);
  if (!query.empty() && options_.semantic_threshold <= 1.0) {
    std::string best_key;
    double best_sim = -2;
    lru_.scan([&](const std::string& k, const EntryPtr& e) {
      using Visit = LruCache<std::string, EntryPtr>::Visit;
      if (e->scope != scope) return Visit::Keep;
      if (e->content_version != key.content_version) {
        count(invalidated_);
        return Visit::Erase;
      }
      if (e->embedding.size() == query.size()) {
        const double sim = dot(e->embedding, query);
        if (sim > best_sim) {
          best_sim = sim;
          best_key = k;
        }
      }
      return Visit::Keep;
    });
    if (!best_key.empty() && best_sim >= options_.semantic_threshold) {
      // Promotes the entry; it may have been replaced or evicted since the scan, and then
      // this lookup is a miss like any other.
      if (auto best = lru_.get(best_key)) {
        count(semantic_hits_);
        return AnswerHit{AnswerHitKind::Semantic, best_sim, (*best)->question, (*best)->value};
      }
    }
  }
  count(misses_);
  return std::nullopt;
}

void AnswerCache::insert(const AnswerKey& key, std::span<const float> embedding, CachedAnswer value) {
  if (options_.capacity == 0) return;
  auto entry = std::make_shared<Entry>();
  entry->scope = scope_of(key);
  entry->question = key.question;
  entry->content_version = key.content_version;
  entry->embedding = unit(embedding);
  entry->value = std::move(value);
  const std::string exact_key = entry->scope + "\n" + normalize_question(key.question);
  if (options_.shared) {
    const auto ttl = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::duration<double>(options_.shared_ttl_seconds));
    options_.shared->put(shared_key(exact_key, key.content_version),
                         encode_entry(entry->question, entry->content_version, entry->embedding, entry->value), ttl);
  }
  lru_.put(exact_key, std::move(entry));
}

void AnswerCache::clear() {
  lru_.clear();
  if (options_.shared) options_.shared->clear();
}

AnswerCacheStats AnswerCache::stats() const {
  const LruStats l = lru_.stats();
  AnswerCacheStats s;
  s.exact_hits = exact_hits_.load(std::memory_order_relaxed);
  s.semantic_hits = semantic_hits_.load(std::memory_order_relaxed);
  s.misses = misses_.load(std::memory_order_relaxed);
  s.invalidated = invalidated_.load(std::memory_order_relaxed);
  s.shared_hits = shared_hits_.load(std::memory_order_relaxed);
  s.evicted = l.evictions;
  s.size = l.entries;
  if (options_.shared) s.shared_errors = options_.shared->stats().errors;
  return s;
}

}  // namespace ragd::rag
